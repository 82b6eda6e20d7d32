#!/usr/bin/env bats
# oscar.bats — `joulebench import oscar` and `joulebench export oscar` end to
# end on the committed fixtures (tests/fixtures/oscar): exit codes, the
# file:line error with nothing written, TZ against --utc-offset, and an
# export → import round trip that keeps OSCAR's energies.

setup() {
    F="$JB_TOP/tests/fixtures/oscar"
    DB="$BATS_TEST_TMPDIR/o.db"
    export TZ=Europe/Berlin
}

import_all() {
    "$JB" import oscar --log "$F/scenario_log.csv" --power "$F/power.csv" \
        --hardware "$F/hardware.csv" --baseline-log "$F/baseline_log.csv" \
        --baseline-power "$F/power.csv" --idle-log "$F/idle_log.csv" \
        --idle-power "$F/power.csv" --variant own-cnn "$@"
}

@test "import oscar reads measurement, baseline and idle into one experiment" {
    run import_all -o "$DB"
    [ "$status" -eq 0 ]
    [[ "$output" == *"3 scenario, 2 baseline, 2 idle runs"* ]]
    run sqlite3 "$DB" "SELECT count(*), count(DISTINCT experiment_id) FROM run"
    [ "$output" = "7|1" ]
    # OSCAR's energy of the first run equals the fixture generator's sum
    want=$(awk '$1=="scenario"{print $6; exit}' "$F/expected.txt")
    got=$(sqlite3 "$DB" "SELECT printf('%.9f', energy_wh) FROM oscar_run WHERE run_id=1")
    [ "$got" = "$want" ]
}

@test "--utc-offset +02:00 gives the same times as TZ=Europe/Berlin" {
    import_all -q -o "$DB"
    TZ=UTC import_all -q --utc-offset +02:00 -o "$BATS_TEST_TMPDIR/u.db"
    a=$(sqlite3 "$DB" "SELECT group_concat(start_ns) FROM run")
    b=$(sqlite3 "$BATS_TEST_TMPDIR/u.db" "SELECT group_concat(start_ns) FROM run")
    [ "$a" = "$b" ]
    # read as UTC, every time is two hours later in Unix time
    TZ=UTC import_all -q -o "$BATS_TEST_TMPDIR/z.db"
    c=$(sqlite3 "$BATS_TEST_TMPDIR/z.db" "SELECT min(start_ns) FROM run")
    d=$(sqlite3 "$DB" "SELECT min(start_ns) FROM run")
    [ $((c - d)) -eq 7200000000000 ]
}

@test "bad input: file:line error, exit 123, no store left behind" {
    printf '2022-9-22 09:00:00.000;startTestrun\n2022-9-22 09:00:01.000;stopAction\n' \
        > "$BATS_TEST_TMPDIR/bad.csv"
    run "$JB" import oscar --log "$BATS_TEST_TMPDIR/bad.csv" --power "$F/power.csv" -o "$DB"
    [ "$status" -eq 123 ]
    [[ "$output" == *"bad.csv:2: stopAction without an open action"* ]]
    [ ! -e "$DB" ]
    # an existing store keeps what it had
    import_all -q -o "$DB"
    run "$JB" import oscar --log "$BATS_TEST_TMPDIR/bad.csv" --power "$F/power.csv" -o "$DB"
    [ "$status" -eq 123 ]
    [ "$(sqlite3 "$DB" 'SELECT count(*) FROM run')" = 7 ]
}

@test "usage errors exit 124" {
    run "$JB" import oscar --log "$F/scenario_log.csv" -o "$DB"
    [ "$status" -eq 124 ]; [[ "$output" == *"--power"* ]]
    run "$JB" import csv
    [ "$status" -eq 124 ]; [[ "$output" == *"supported: oscar"* ]]
    run "$JB" import oscar --log a --power b --utc-offset 2h
    [ "$status" -eq 124 ]
    run "$JB" export oscar "$DB"
    [ "$status" -eq 124 ]; [[ "$output" == *"--dir"* ]]
    run "$JB" export oscar "$BATS_TEST_TMPDIR/missing.db" --dir "$BATS_TEST_TMPDIR/x"
    [ "$status" -eq 123 ]
}

@test "export oscar writes the three files per phase; re-import keeps OSCAR's energies" {
    import_all -q -o "$DB"
    run "$JB" export oscar "$DB" --dir "$BATS_TEST_TMPDIR/out"
    [ "$status" -eq 0 ]
    O="$BATS_TEST_TMPDIR/out"
    for p in own-cnn_scenario baseline idle; do
        for k in actions power hardware; do [ -s "$O/${p}_$k.csv" ]; done
    done
    head -2 "$O/baseline_power.csv" | grep -q '^Nummer;Zeit;Wert 1-avg\[W\];'
    grep -q '^1;22.09.22, 09:05:01;[0-9]*,[0-9][0-9][0-9];' "$O/baseline_power.csv"
    head -1 "$O/baseline_hardware.csv" | grep -q '^Date Time;\[CPU\]Totl%;'
    # milliseconds always three digits
    grep -q '^2022-9-22 09:00:01.098;startAction;preprocessing$' "$O/own-cnn_scenario_actions.csv"
    "$JB" import oscar -q --log "$O/own-cnn_scenario_actions.csv" \
        --power "$O/own-cnn_scenario_power.csv" --hardware "$O/own-cnn_scenario_hardware.csv" \
        --baseline-log "$O/baseline_actions.csv" --baseline-power "$O/baseline_power.csv" \
        --idle-log "$O/idle_actions.csv" --idle-power "$O/idle_power.csv" \
        --variant own-cnn -o "$BATS_TEST_TMPDIR/r.db"
    a=$(sqlite3 "$DB" "SELECT group_concat(energy_wh || '/' || rows) FROM oscar_run")
    b=$(sqlite3 "$BATS_TEST_TMPDIR/r.db" "SELECT group_concat(energy_wh || '/' || rows) FROM oscar_run")
    [ "$a" = "$b" ]
}

@test "report on imported OSCAR data uses OSCAR's definitions exactly" {
    import_all -q -o "$DB"
    "$JB" report "$DB" --json > "$BATS_TEST_TMPDIR/r.json"
    /usr/bin/python3 - "$BATS_TEST_TMPDIR/r.json" "$F/expected.txt" <<'PY'
import json, sys
rep = json.load(open(sys.argv[1]))
exp = [l.split() for l in open(sys.argv[2]) if not l.startswith("#")]
runs = sorted(rep["runs"], key=lambda r: r["id"])
assert len(runs) == len(exp), (len(runs), len(exp))
base = [float(e[4]) for e in exp if e[0] == "baseline"]
mean_base_j = sum(base) / len(base)           # Σ P over 1 s rows = joules
for r, e in zip(runs, exp):
    assert r["phase"] == e[0], (r["phase"], e[0])
    assert abs(r["energy_wh"] - float(e[5])) < 1e-9, (r["energy_wh"], e[5])
    assert abs(r["energy_j"] - float(e[4])) < 1e-6
    if e[0] == "scenario":                    # OSCAR form: E_run - mean(E_baseline)
        assert abs(r["sie_oscar_j"] - (float(e[4]) - mean_base_j)) < 1e-6, r["sie_oscar_j"]
print("ok")
PY
}

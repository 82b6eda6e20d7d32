#!/usr/bin/env bats
# run.bats — `joulebench run` end to end: small experiments (runs of well
# under a second) checked from the store with sqlite3: order for each order
# mode, phases, durations, seeds, controls, snapshots, markers on the right
# runs; auto durations from pilot runs; the idle ready marker; failing
# variants and --max-failures; kill -9 mid-run; SIGINT then --resume; several
# experiments in one store; malformed specs through the CLI.

setup() {
    export JB
    D="$BATS_TEST_TMPDIR"
    DB="$D/results.db"
    BUSY='i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done'
}

q() { sqlite3 "$DB" "$@"; }

# spec FILE ORDER: 2 variants x 3 reps, baseline and idle x 2, 0.2 s each.
# Each scenario run sends its seed and its rep as metric markers.
write_spec() {
    cat >"$1" <<EOF
name: small-$2
interval: 50ms
sources: [cpu]
repetitions: {scenario: 3, baseline: 2, idle: 2}
baseline: {duration: 0.2s}
idle:
  command: [sleep, "30"]
  ready: {delay: 50ms}
  duration: 0.2s
variants:
  alpha:
    command: [sh, -c, '"\$JB" mark metric seed "\$JOULEBENCH_SEED"; "\$JB" mark metric rep "\$JOULEBENCH_REP"; $BUSY']
    env: {WHO: alpha}
  beta:
    command: [sh, -c, '"\$JB" mark metric seed "\$JOULEBENCH_SEED"; "\$JB" mark metric rep "\$JOULEBENCH_REP"; echo "\$WHO" >> "$D/who"']
    env: {WHO: beta}
order: $2
seed: 4242
setup:
  cooldown: {seconds: 0.01}
EOF
}

# The plan order as --dry-run prints it: "phase variant rep" lines.
dry_order() {
    "$JB" run "$1" --dry-run | awk '/^runs:/{on=1; getline; next} on && NF==4 {print $2, $3, $4} /^expected/{on=0}'
}

store_order() {
    q "SELECT phase, CASE variant WHEN '' THEN '-' ELSE variant END, rep FROM run
       WHERE experiment_id=(SELECT max(id) FROM experiment) AND phase<>'pilot' ORDER BY id"
}

@test "interleaved: order, phases, durations, seeds, controls, snapshot, markers" {
    write_spec "$D/s.yml" interleaved
    run "$JB" run "$D/s.yml" -o "$DB"
    echo "$output"
    [ "$status" -eq 0 ]
    # rounds: baseline, idle, then every variant (baselines due in rounds 1 and 2)
    expected="baseline - 1
idle - 1
scenario alpha 1
scenario beta 1
baseline - 2
idle - 2
scenario alpha 2
scenario beta 2
scenario alpha 3
scenario beta 3"
    [ "$(store_order | tr '|' ' ')" = "$expected" ]
    [ "$(dry_order "$D/s.yml")" = "$expected" ]
    [ "$(q "SELECT group_concat(seq) FROM (SELECT seq FROM run ORDER BY id)")" = "1,2,3,4,5,6,7,8,9,10" ]
    [ "$(q "SELECT count(*) FROM run WHERE status='ok'")" -eq 10 ]
    # baseline and idle windows last 0.2 s
    [ "$(q "SELECT count(*) FROM run WHERE phase IN ('baseline','idle')
             AND (end_ns-start_ns) BETWEEN 190000000 AND 400000000")" -eq 4 ]
    # every scenario run got the seed and its own rep: markers on the right runs
    [ "$(q "SELECT count(*) FROM marker m JOIN run r ON r.id=m.run_id
             WHERE m.name='seed' AND m.value=4242 AND r.phase='scenario'")" -eq 6 ]
    [ "$(q "SELECT count(*) FROM marker m JOIN run r ON r.id=m.run_id
             WHERE m.name='rep' AND m.value=r.rep")" -eq 6 ]
    [ "$(q "SELECT count(*) FROM marker m JOIN run r ON r.id=m.run_id WHERE r.phase<>'scenario'")" -eq 0 ]
    # variant env reached the command
    [ "$(sort "$D/who" | uniq -c | awk '{print $1, $2}')" = "3 beta" ]
    # controls recorded per run
    [ "$(q "SELECT count(*) FROM run WHERE json_extract(controls,'$.seed.value')=4242
             AND json_extract(controls,'$.seed.status')='applied'")" -eq 10 ]
    [ "$(q "SELECT json_extract(controls,'$.cooldown.status') FROM run WHERE seq=1")" = skipped ]
    [ "$(q "SELECT count(*) FROM run WHERE json_extract(controls,'$.cooldown.status')='applied'")" -eq 9 ]
    [ "$(q "SELECT json_extract(controls,'$.drop_caches.status') FROM run WHERE seq=3")" = off ]
    [ "$(q "SELECT json_extract(controls,'$.gpu_memory.status') FROM run WHERE seq=3")" = off ]
    # snapshot: load average (3 values) and a top list
    [ "$(q "SELECT json_array_length(snapshot,'$.loadavg') FROM run WHERE seq=4")" -eq 3 ]
    [ "$(q "SELECT json_type(snapshot,'$.top') FROM run WHERE seq=4")" = array ]
    [ "$(q "SELECT status, kind FROM experiment")" = "done|experiment" ]
    [ "$(q "SELECT spec_text FROM experiment")" = "$(cat "$D/s.yml")" ]
}

@test "blocked and randomized orders as declared; one store holds both experiments" {
    write_spec "$D/b.yml" blocked
    run "$JB" run "$D/b.yml" -o "$DB"
    [ "$status" -eq 0 ]
    [ "$(store_order | tr '|' ' ')" = "baseline - 1
baseline - 2
idle - 1
idle - 2
scenario alpha 1
scenario alpha 2
scenario alpha 3
scenario beta 1
scenario beta 2
scenario beta 3" ]
    write_spec "$D/r.yml" randomized
    run "$JB" run "$D/r.yml" -o "$DB"
    [ "$status" -eq 0 ]
    # the seeded plan: the same as --dry-run shows, and not the blocked one
    [ "$(store_order | tr '|' ' ')" = "$(dry_order "$D/r.yml")" ]
    [ "$(store_order | tr '|' ' ' | head -4 | tr '\n' ,)" != "baseline - 1,baseline - 2,idle - 1,idle - 2," ]
    # reps count in execution order within each (phase, variant)
    [ "$(q "SELECT count(*) FROM run r WHERE experiment_id=2 AND rep <> (SELECT count(*) FROM run
             s WHERE s.experiment_id=2 AND s.phase=r.phase AND s.variant=r.variant AND s.id<=r.id)")" -eq 0 ]
    [ "$(q "SELECT count(*) FROM experiment")" -eq 2 ]
    [ "$(q "SELECT group_concat(n) FROM (SELECT count(*) n FROM run GROUP BY experiment_id ORDER BY experiment_id)")" = "10,10" ]
}

@test "auto durations: pilot runs first, baseline and idle as long as their median; ready marker" {
    cat >"$D/a.yml" <<'EOF'
name: auto
interval: 50ms
sources: [cpu]
repetitions: {scenario: 1, baseline: 1, idle: 1}
baseline: {duration: auto}
idle:
  command: [sh, -c, 'sleep 0.1; "$JB" mark event warm; exec sleep 30']
  ready: {marker: warm}
  duration: auto
variants:
  short: {command: [sleep, "0.3"]}
  long: {command: [sleep, "0.6"]}
EOF
    run "$JB" run "$D/a.yml" -o "$DB"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(q "SELECT group_concat(x) FROM (SELECT phase||':'||variant x FROM run ORDER BY id)")" = \
      "pilot:short,pilot:long,baseline:,idle:,scenario:short,scenario:long" ]
    med=$(q "SELECT (min(end_ns-start_ns)+max(end_ns-start_ns))/2 FROM run WHERE phase='pilot'")
    for ph in baseline idle; do
        d=$(q "SELECT end_ns-start_ns FROM run WHERE phase='$ph'")
        echo "$ph $d median $med"
        [ $((d - med)) -lt 30000000 ] && [ $((med - d)) -lt 30000000 ]
    done
    # the idle window starts when the ready marker arrived
    [ "$(q "SELECT count(*) FROM marker m JOIN run r ON r.id=m.run_id
             WHERE r.phase='idle' AND m.name='warm' AND m.recv_ns <= r.start_ns + 1000000")" -eq 1 ]
}

@test "a failing variant: failed runs with exit status and stderr tail, the rest goes on" {
    cat >"$D/f.yml" <<'EOF'
name: failing
interval: 50ms
sources: [cpu]
repetitions: {scenario: 2, baseline: 0}
baseline: {duration: 0.1s}
variants:
  good: {command: [true]}
  bad: {command: [sh, -c, "echo broken input >&2; exit 3"]}
  slow: {command: [sleep, "5"], timeout: 200ms}
EOF
    run "$JB" run "$D/f.yml" -o "$DB"
    echo "$output"
    [ "$status" -eq 1 ]
    [ "$(q "SELECT status, exit_code FROM run WHERE variant='good' GROUP BY status")" = "ok|0" ]
    [ "$(q "SELECT count(*) FROM run WHERE variant='bad' AND status='failed' AND exit_code=3
             AND stderr_tail LIKE '%broken input%'")" -eq 2 ]
    [ "$(q "SELECT count(*) FROM run WHERE variant='slow' AND status='failed' AND note='timed out'
             AND end_ns-start_ns < 3000000000")" -eq 2 ]
    [[ "$output" == *"bad rep 1: failed"* ]]
    [ "$(q "SELECT status FROM experiment")" = done ]

    # --max-failures 1: the second failure stops the experiment
    run "$JB" run "$D/f.yml" -o "$DB" --max-failures 1
    [ "$status" -eq 2 ]
    [[ "$output" == *"more than 1 failed"* ]]
    [ "$(q "SELECT status FROM experiment WHERE id=2")" = failed ]
    [ "$(q "SELECT count(*) FROM run WHERE experiment_id=2")" -eq 3 ]
}

@test "controls: reset (ok and failing), drop_caches, quiet on_timeout fail, cooldown until power" {
    cat >"$D/c.yml" <<EOF
name: controls
interval: 50ms
sources: [cpu, estimate]
repetitions: {scenario: 2, baseline: 1}
baseline: {duration: 0.2s}
variants:
  v: {command: [true]}
order: blocked
setup:
  reset: [sh, -c, 'n=\$(cat "$D/n" 2>/dev/null || echo 0); echo \$((n+1)) > "$D/n"; [ \$n -ne 1 ] || { echo reset broke >&2; exit 4; }']
  drop_caches: true
  cooldown: {until: power, tolerance: 1000, max: 1s}
EOF
    run "$JB" run "$D/c.yml" -o "$DB"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(cat "$D/n")" -eq 3 ] # before each of the 3 runs
    [ "$(q "SELECT group_concat(s) FROM (SELECT json_extract(controls,'$.reset.status') s FROM run ORDER BY id)")" = "applied,failed,applied" ]
    [ "$(q "SELECT json_extract(controls,'$.reset.exit_code') FROM run WHERE seq=2")" -eq 4 ]
    [[ "$(q "SELECT json_extract(controls,'$.reset.stderr_tail') FROM run WHERE seq=2")" == *"reset broke"* ]]
    if [ "$(id -u)" -eq 0 ]; then want=applied; else want=skipped; fi
    [ "$(q "SELECT json_extract(controls,'$.drop_caches.status') FROM run WHERE seq=2")" = $want ]
    # cooldown until power: the baseline run's power is the reference
    [ "$(q "SELECT json_extract(controls,'$.cooldown.status') FROM run WHERE seq=2")" = applied ]
    [ "$(q "SELECT json_extract(controls,'$.cooldown.baseline') > 0 FROM run WHERE seq=3")" -eq 1 ]

    # quiet that can never be met, on_timeout: fail → runs recorded failed, not measured
    cat >"$D/qf.yml" <<'EOF'
name: never-quiet
interval: 50ms
sources: [cpu]
repetitions: {scenario: 1, baseline: 0}
baseline: {duration: 0.1s}
variants:
  v: {command: [true]}
setup:
  quiet: {threshold: 0, window: 0.2s, timeout: 0.5s, on_timeout: fail}
EOF
    run "$JB" run "$D/qf.yml" -o "$DB"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"system not quiet"* ]]
    [ "$(q "SELECT status, note FROM run WHERE experiment_id=2")" = \
      "failed|not measured: system not quiet (CPU $(q "SELECT printf('%.0f', json_extract(controls,'$.quiet.cpu_pct')) FROM run WHERE experiment_id=2") % >= 0 %)" ]
    [ "$(q "SELECT json_extract(controls,'$.quiet.status') FROM run WHERE experiment_id=2")" = failed ]
    [ "$(q "SELECT json_type(controls,'$.quiet.top') FROM run WHERE experiment_id=2")" = array ]
}

slow_spec() {
    cat >"$1" <<EOF
name: slow
interval: 50ms
sources: [cpu]
repetitions: {scenario: 3, baseline: 1}
baseline: {duration: 0.2s}
variants:
  a: {command: [sh, -c, 'echo \$\$ > "$D/pid.\$JOULEBENCH_REP"; exec sleep 0.4']}
  b: {command: [sh, -c, 'echo \$\$ > "$D/pidb.\$JOULEBENCH_REP"; exec sleep 0.4']}
EOF
}

wait_runs() { # wait until N runs exist (at most 10 s)
    for _ in $(seq 100); do
        [ "$(q "SELECT count(*) FROM run" 2>/dev/null || echo 0)" -ge "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

@test "SIGINT: current run aborted, experiment aborted, exit 130; --resume completes without duplicates" {
    slow_spec "$D/sl.yml"
    "$JB" run "$D/sl.yml" -o "$DB" >"$D/out" 2>&1 &
    pid=$!
    wait_runs 4
    sleep 0.1
    kill -INT $pid
    st=0; wait $pid || st=$?
    cat "$D/out"
    [ "$st" -eq 130 ]
    [ "$(q "SELECT status FROM experiment")" = aborted ]
    [ "$(q "SELECT status FROM run ORDER BY id DESC LIMIT 1")" = aborted ]
    [ "$(q "SELECT count(*) FROM run WHERE status='running'")" -eq 0 ]
    grep -q -- "--resume" "$D/out"
    n_before=$(q "SELECT count(*) FROM run")

    run "$JB" run --resume "$DB"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(q "SELECT status FROM experiment")" = done ]
    # every planned run exactly once as done; the aborted row stays as it was
    [ "$(q "SELECT count(*) FROM run WHERE status='ok'")" -eq 7 ]
    [ "$(q "SELECT count(*) FROM (SELECT phase, variant, rep FROM run WHERE status IN ('ok','failed')
             GROUP BY 1,2,3 HAVING count(*) > 1)")" -eq 0 ]
    [ "$(q "SELECT count(*) FROM run WHERE status='aborted'")" -ge 1 ]
    # no row lost: what was there before is still there, plus only the missing runs
    [ "$(q "SELECT count(*) FROM run")" -eq $((7 + $(q "SELECT count(*) FROM run WHERE status='aborted'"))) ]
    [ "$(q "SELECT count(*) FROM run WHERE id <= $n_before AND status='ok'")" -eq $((n_before - 1)) ]
    # the resumed runs come after the old ones and in plan order
    [ "$(q "SELECT group_concat(seq) FROM (SELECT seq FROM run WHERE status='ok' ORDER BY id)")" = "1,2,3,4,5,6,7" ]
    # nothing left to resume
    run "$JB" run --resume "$DB"
    [ "$status" -eq 123 ]
    [[ "$output" == *"no unfinished experiment"* ]]
}

@test "kill -9 mid-run: store readable, the run marked aborted on reopen, resume finishes" {
    slow_spec "$D/sl.yml"
    "$JB" run "$D/sl.yml" -o "$DB" >/dev/null 2>&1 &
    pid=$!
    wait_runs 3
    sleep 0.15
    kill -9 $pid
    wait $pid || true
    for f in "$D"/pid*; do kill "$(cat "$f")" 2>/dev/null || true; done # the orphaned sleeps
    [ "$(q "PRAGMA integrity_check")" = ok ]
    [ "$(q "SELECT status FROM run ORDER BY id DESC LIMIT 1")" = running ]
    [ "$(q "SELECT count(*) FROM sample")" -gt 0 ]
    run "$JB" run --resume "$DB" "$D/sl.yml"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(q "SELECT count(*) FROM run WHERE status='aborted' AND note LIKE '%recorder died%'")" -eq 1 ]
    [ "$(q "SELECT count(*) FROM run WHERE status='ok'")" -eq 7 ]
    [ "$(q "SELECT count(DISTINCT phase||variant||rep) FROM run WHERE status='ok'")" -eq 7 ]
}

@test "resume refuses a changed spec" {
    slow_spec "$D/sl.yml"
    "$JB" run "$D/sl.yml" -o "$DB" >/dev/null 2>&1 &
    pid=$!
    wait_runs 2
    kill -INT $pid
    wait $pid || true
    sed -i 's/scenario: 3/scenario: 4/' "$D/sl.yml"
    run "$JB" run --resume "$DB" "$D/sl.yml"
    [ "$status" -eq 124 ]
    [[ "$output" == *"the spec changed since experiment 'slow' started"* ]]
}

@test "dry-run prints plan, controls and expected time, and creates no store" {
    write_spec "$D/s.yml" interleaved
    run "$JB" run "$D/s.yml" -o "$DB" --dry-run
    [ "$status" -eq 0 ]
    [[ "$output" == *"controls:"* ]]
    [[ "$output" == *"cooldown: 10 ms"* ]]
    [[ "$output" == *"expected time:"* ]]
    [[ "$output" == *"runs: 10"* ]]
    [ ! -e "$DB" ]
}

@test "usage errors exit 124" {
    run "$JB" run
    [ "$status" -eq 124 ]; [[ "$output" == *"no spec given"* ]]
    run "$JB" run a.yml b.yml
    [ "$status" -eq 124 ]
    run "$JB" run a.yml --max-failures -1
    [ "$status" -eq 124 ]; [[ "$output" == *"--max-failures"* ]]
    run "$JB" run "$D/missing.yml"
    [ "$status" -eq 124 ]; [[ "$output" == *"cannot open the spec"* ]]
    run "$JB" run --help
    [ "$status" -eq 0 ]; [[ "$output" == *"--resume"* ]]
}

@test "malformed specs: the file:line:column message, exit 124, nothing stored" {
    n=0
    for f in "$JB_TOP"/tests/fixtures/specs/bad/*.yml; do
        expect=$(sed -n '1s/^# expect: //p' "$f")
        run "$JB" run "$f" -o "$DB"
        if [ "$status" -ne 124 ] || [[ "$output" != *"$f:$expect"* ]]; then
            echo "$f: status $status"; echo "expected: $f:$expect"; echo "got: $output"
            return 1
        fi
        n=$((n + 1))
    done
    [ "$n" -ge 10 ]
    [ ! -e "$DB" ]
}

#!/usr/bin/env bats
# report.bats — `joulebench report` end to end on a synthetic store
# (tests/browser/make_store.sh: exact energies P × 20 s), on stores written by
# `joulebench measure`, and on bad input (newer schema, corrupt file, usage).

setup() {
    T=$(mktemp -d)
    DB=$T/e.db
    JB=$JB "$JB_TOP/tests/browser/make_store.sh" "$DB"
}

teardown() { rm -rf "$T"; }

@test "text summary: groups, verdict, target, failed run warning" {
    run "$JB" report "$DB" --target 'val_accuracy>=0.85'
    [ "$status" -eq 0 ]
    [[ "$output" == *"fast "*"0.1167"* ]]
    [[ "$output" == *"slow used 48 % more energy than fast"* ]]
    [[ "$output" == *"  slow  - (n=0, 3 never reached)"* ]]
    [[ "$output" == *"1 run(s) failed or aborted"* ]]
    # fits a terminal: columns as wide as their contents, long lines wrapped
    printf '%s\n' "$output" | python3 -c 'import sys; w = max(len(l.rstrip("\n")) for l in sys.stdin); print("widest line", w); sys.exit(w > 100)'
}

@test "json: numbers match the hand-computed energies" {
    "$JB" report "$DB" --json > "$T/r.json" 2> "$T/err"
    grep -q "warning: 1 run(s) failed" "$T/err"
    python3 -c '
import json, sys
d = json.load(sys.stdin)
g = {x["label"]: x for x in d["groups"]}
e = g["slow"]["stats"]["energy_wh"]
assert abs(e["mean"] - (20 * 31) / 3600) < 1e-9, e
assert e["n"] == 3 and abs(e["sd"] - 20 / 3600) < 1e-9
s = g["fast"]["software_induced"]["power_based_wh"]
assert abs(s["value"] - (21 - 10) * 20 / 3600) < 1e-9, s
assert d["comparisons"][0]["quantity"] == "energy_wh"
assert len([r for r in d["runs"] if r["status"] == "failed"]) == 1
assert g["fast"]["epochs"][3]["index"] == 4
' < "$T/r.json"
}

@test "markdown and csv: same tables" {
    run "$JB" report "$DB" --markdown --csv "$T/csv"
    [ "$status" -eq 0 ]
    [[ "$output" == *"## Comparisons"* ]]
    # overview in the Blue Angel layout (as the HTML report): groups are columns
    [[ "$output" == *"| mean per run | baseline (n=3) | fast (n=3) | slow (n=3) |"* ]]
    [[ "$output" == *"| energy per run (Wh) | 0.05556 | 0.11667 | 0.17222 | 0.06111 |"* ]]
    for f in runs stats software_induced comparisons targets utilisation epochs warnings; do
        [ -s "$T/csv/$f.csv" ]
    done
    grep -q '^"slow",scenario,energy_wh,3,0.1722222222' "$T/csv/stats.csv"
    [ "$(wc -l < "$T/csv/runs.csv")" -eq 11 ]
}

@test "html: one self-contained file with every section" {
    run "$JB" report "$DB" --html "$T/r.html"
    [ "$status" -eq 0 ]
    for id in overview power energy actions epochs efficiency comparisons statistics \
              utilisation targets reproducibility warnings setup; do
        grep -q "<section id=\"$id\">" "$T/r.html"
    done
    ! grep -qi '<script' "$T/r.html"
    ! grep -Eq '(src|href)="https?:' "$T/r.html"
    [ "$(grep -o '<svg' "$T/r.html" | wc -l)" -ge 6 ]
    # plots stay small: no polyline with more than 1000 points
    python3 -c '
import re, sys
t = open(sys.argv[1]).read()
assert max(len(p.split()) for p in re.findall(r"points=\"([^\"]*)\"", t)) <= 1000
# action bars: each group labelled with its total, no numeric ticks on the category axis
a = t[t.index("<section id=\"actions\">"):]
a = a[:a.index("</section>")]
assert "fast: 0.1167 Wh" in a and "baseline: no actions" in a, a
assert "class=\"grid\"" not in a, "category axis has ticks"' "$T/r.html"
}

@test "measure runs: reported by name, estimated energy flagged" {
    S=$T/m.db
    for n in a a b b; do
        "$JB" measure -q -i 50ms --name $n -o "$S" -- sleep 0.3 2>/dev/null
    done
    run "$JB" report "$S"
    [ "$status" -eq 0 ]
    [[ "$output" == *"measure runs"* ]]
    [[ "$output" =~ a\ +2 ]]
    [[ "$output" =~ b\ +2 ]]
    # no power meter here: the estimate is flagged in every form
    [[ "$output" == *"(estimated)"* ]]
    [[ "$output" == *"ESTIMATED"* ]]
    "$JB" report "$S" --markdown > $T/m.md 2>/dev/null
    grep -q '^> \*\*ESTIMATED:\*\*' $T/m.md
    "$JB" report "$S" --html $T/m.html > /dev/null 2>&1
    grep -q 'class="est"' $T/m.html
    # a measured store (fake RAPL) carries no such banner
    "$JB" report "$DB" --markdown > $T/d.md 2>/dev/null
    ! grep -q 'ESTIMATED' $T/d.md
}

@test "bad input: newer schema, corrupt file, missing store, empty experiment" {
    sqlite3 "$DB" "UPDATE meta SET value='99' WHERE key='schema_version'"
    run "$JB" report "$DB"
    [ "$status" -eq 123 ]
    [[ "$output" == *"schema version 99"* ]]
    head -c 3000 /dev/urandom > "$T/bad.db"
    run "$JB" report "$T/bad.db"
    [ "$status" -eq 123 ]
    run "$JB" report "$T/none.db"
    [ "$status" -eq 123 ]
    [[ "$output" == *"no such readable file"* ]]
    "$JB" store-schema | sqlite3 "$T/empty.db"
    sqlite3 "$T/empty.db" "INSERT INTO meta VALUES('schema_version','1');
      INSERT INTO experiment(id,name,kind) VALUES(1,'nothing','experiment')"
    run "$JB" report "$T/empty.db" --html "$T/empty.html"
    [ "$status" -eq 0 ]
    [[ "$output" == *"no runs"* ]]
    grep -q '<section id="warnings">' "$T/empty.html"
    sqlite3 "$T/empty.db" "DELETE FROM experiment"
    run "$JB" report "$T/empty.db"
    [ "$status" -eq 123 ]
    [[ "$output" == *"no experiment yet"* ]]
}

@test "usage errors exit 124" {
    run "$JB" report "$DB" --target 'acc>'
    [ "$status" -eq 124 ]
    run "$JB" report "$DB" --compare onlyone
    [ "$status" -eq 124 ]
    run "$JB" report "$DB" --markdown --json
    [ "$status" -eq 124 ]
    run "$JB" report "$DB" --bogus
    [ "$status" -eq 124 ]
    run "$JB" report "$DB" --experiment 7
    [ "$status" -eq 123 ]
}

#!/usr/bin/env bats
# cnn.bats -- the case-study trainer (build/jb-cnn) under joulebench: per-epoch
# energy rows with the trainer's own metrics from `joulebench measure
# --per-index --json`, the idle mode (event marker "ready", stops with status 0
# on SIGTERM or SIGINT, bad input), and an idle phase with a ready marker in a
# `joulebench run` experiment, the pattern examples/flowers.yml uses.
# Bad input for train (empty folder, corrupt images, wrong checkpoints) is
# covered by the trainer's own unit tests (workloads/cnn/tests).

setup_file() {
    BUILD=${BUILD:-build}
    TOP=${JB_TOP:-$PWD}
    CNN="$TOP/$BUILD/jb-cnn"
    export DATA="$BATS_FILE_TMPDIR/flowers"
    [ -x "$CNN" ] && "$CNN" synth --out "$DATA" --per-class 12 --size 32 --seed 3 >/dev/null
    return 0
}

setup() {
    BUILD=${BUILD:-build}
    TOP=${JB_TOP:-$PWD}
    CNN="$TOP/$BUILD/jb-cnn"
    [ -x "$CNN" ] || skip "jb-cnn not built (make all)"
    [ -x "$JB" ] || skip "joulebench not built (\$JB=$JB)"
    TMP=$(mktemp -d)
}

teardown() {
    [ -n "${IDLE_PID:-}" ] && kill -KILL "$IDLE_PID" 2>/dev/null
    rm -rf "$TMP"
}

q() { sqlite3 "$TMP/s.db" "$1"; }

# Starts jb-cnn idle in the background (stdout in $TMP/idle.out) and waits up
# to 20 s for its ready line.
start_idle() {
    "$CNN" idle --data "$DATA" --size 32 --threads 1 "$@" >"$TMP/idle.out" 2>&1 &
    IDLE_PID=$!
    for _ in $(seq 200); do
        grep -q 'ready, waiting' "$TMP/idle.out" && return 0
        kill -0 "$IDLE_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$TMP/idle.out"
    return 1
}

@test "measure --per-index --json: one row per epoch with energy and the trainer's val_accuracy" {
    run "$JB" measure -o "$TMP/s.db" -q --per-index --json "$TMP/m.json" -- \
        "$CNN" train --data "$DATA" --size 32 --epochs 2 --threads 1 --seed 5
    [ "$status" -eq 0 ]
    # The trainer prints "epoch E/2: ... val_accuracy A ..."; the rows must carry the same A.
    printf '%s\n' "$output" | sed -n 's/^epoch \([0-9]*\)\/2: .* val_accuracy \([0-9.]*\) .*/\1 \2/p' \
        >"$TMP/printed"
    [ "$(wc -l <"$TMP/printed")" -eq 2 ]
    python3 - "$TMP/m.json" "$TMP/printed" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
printed = {int(e): float(a) for e, a in (l.split() for l in open(sys.argv[2]))}
rows = [r for r in d["actions"]["per_index"] if r["action"] == "epoch"]
assert [r["index"] for r in rows] == [1, 2], rows
prev = 0.0
for r in rows:
    assert r["energy_j"] > 0 and r["duration_s"] > 0, r
    assert r["cumulative_energy_j"] > prev, r
    prev = r["cumulative_energy_j"]
    m = r["metrics"]
    for k in ("loss", "accuracy", "val_loss", "val_accuracy", "val_f1", "val_correct"):
        assert k in m, (k, m)
    assert abs(m["val_accuracy"] - printed[r["index"]]) < 1e-4, (m, printed)
    assert 0 <= m["val_f1"] <= 1 and m["val_correct"] == round(m["val_correct"])
names = {r["path"] for r in d["actions"]["per_index"]}
assert {"epoch > train", "epoch > validation"} <= names, names
top = {r["name"] for r in d["actions"]["rows"]}
assert {"preprocessing", "epoch", "classification"} <= top, top
assert d["headline"]["energy_j"] > 0
EOF
}

@test "jb-cnn idle: sends the event marker ready, stays idle, SIGTERM ends it with status 0" {
    # Under joulebench measure (a store) so the marker is really received.
    "$JB" measure -o "$TMP/s.db" -q -- sh -c '
        "$0" idle --data "$1" --size 32 --threads 1 >"$2" 2>&1 & p=$!
        i=0; until grep -q "ready, waiting" "$2"; do i=$((i+1)); [ $i -lt 200 ] || exit 9; sleep 0.1; done
        sleep 0.5; kill -0 $p || exit 8          # still there: idle does not exit by itself
        kill -TERM $p; wait $p' "$CNN" "$DATA" "$TMP/idle.out"
    [ "$(q "SELECT count(*) FROM marker WHERE kind='event' AND name='ready'")" -eq 1 ]
    # nothing else: no epochs or metrics in idle mode
    [ "$(q "SELECT count(*) FROM marker WHERE name<>'ready'")" -eq 0 ]
    [ "$(q "SELECT exit_code FROM run")" -eq 0 ]
    grep -q '^idle: .* holds 60 images and own' "$TMP/idle.out"
    grep -q '^idle: stopped' "$TMP/idle.out"
}

@test "jb-cnn idle: SIGINT ends it with status 0; mobilenetv2 with a checkpoint loads like train" {
    start_idle
    kill -INT "$IDLE_PID"
    st=0; wait "$IDLE_PID" || st=$?
    [ "$st" -eq 0 ]
    grep -q '^idle: stopped' "$TMP/idle.out"
    # A base checkpoint, then idle with --init-from --freeze-backbone (as the transfer variant).
    "$CNN" train --data "$DATA" --model mobilenetv2 --alpha 0.35 --size 32 --epochs 0 \
        --save "$TMP/base.ckpt" >/dev/null
    start_idle --model mobilenetv2 --alpha 0.35 --init-from "$TMP/base.ckpt" --freeze-backbone
    grep -q 'mobilenetv2' "$TMP/idle.out"
    kill -TERM "$IDLE_PID"
    st=0; wait "$IDLE_PID" || st=$?
    [ "$st" -eq 0 ]
    IDLE_PID=
}

@test "jb-cnn idle: bad input fails at once with a message, never waits" {
    run timeout 20 "$CNN" idle --data "$TMP/none" --size 32
    [ "$status" -eq 1 ]
    [[ "$output" == *"$TMP/none"*"jb-cnn synth"* ]]
    mkdir -p "$TMP/one/only"
    cp "$DATA"/daisy/*.png "$TMP/one/only/"
    run timeout 20 "$CNN" idle --data "$TMP/one" --size 32
    [ "$status" -eq 1 ]
    [[ "$output" == *class* ]]
    "$CNN" train --data "$DATA" --size 32 --epochs 0 --save "$TMP/own.ckpt" >/dev/null
    head -c 4000 "$TMP/own.ckpt" >"$TMP/bad.ckpt"
    run timeout 20 "$CNN" idle --data "$DATA" --size 32 --init-from "$TMP/bad.ckpt"
    [ "$status" -eq 1 ]
    [[ "$output" == *"truncated or corrupt"* ]]
    run timeout 20 "$CNN" idle --data "$DATA" --bogus
    [ "$status" -eq 2 ]
    [[ "$output" == *"unknown option '--bogus'"* ]]
    run timeout 20 "$CNN" idle
    [ "$status" -eq 2 ]
    [[ "$output" == *"--data DIR is required"* ]]
}

@test "joulebench run: idle phase with jb-cnn idle and ready: {marker: ready}, then a training run" {
    cat >"$TMP/spec.yml" <<EOF
name: cnn-idle
interval: 50ms
repetitions: {scenario: 1, baseline: 1, idle: 1}
baseline: {duration: 500ms}
idle:
  command: [$CNN, idle, --data, "$DATA", --size, "32", --threads, "1"]
  ready: {marker: ready}
  duration: 1s
variants:
  own_cnn: {command: [$CNN, train, --data, "$DATA", --size, "32", --epochs, "1", --threads, "1"], timeout: 2m}
seed: 42
EOF
    run "$JB" run "$TMP/spec.yml" -o "$TMP/s.db"
    [ "$status" -eq 0 ]
    [ "$(q "SELECT status || ' ' || exit_code FROM run WHERE phase='idle'")" = "ok 0" ]
    # The idle window starts when the ready marker arrived (after loading) and lasts 1 s.
    ready=$(q "SELECT m.recv_ns FROM marker m JOIN run r ON m.run_id=r.id WHERE r.phase='idle' AND m.name='ready'")
    [ -n "$ready" ]
    start=$(q "SELECT start_ns FROM run WHERE phase='idle'")
    dur=$(q "SELECT end_ns - start_ns FROM run WHERE phase='idle'")
    [ "$(( start - ready < 0 ? ready - start : start - ready ))" -lt 1000000 ]   # within 1 ms
    [ "$dur" -ge 900000000 ] && [ "$dur" -le 1100000000 ]
    [ "$(q "SELECT count(*) FROM marker m JOIN run r ON m.run_id=r.id WHERE r.phase='scenario' AND m.name='val_accuracy'")" -eq 1 ]
}

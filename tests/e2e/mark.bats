#!/usr/bin/env bats
# mark.bats — `joulebench mark` end to end: the no-op without a recorder,
# --strict, usage errors, and markers received by a real recorder
# (tests/helpers/marker_sink runs a script under src/recorder.c).

setup() {
    SINK="$JB_TOP/${BUILD:-build}/tests/helpers/marker_sink"
    [ -x "$SINK" ] || skip "marker_sink helper not built (make unit-bins)"
    unset JOULEBENCH_SOCKET
    OUT="$BATS_TEST_TMPDIR/markers.txt"
}

@test "mark without JOULEBENCH_SOCKET is a silent no-op" {
    run "$JB" mark begin epoch 3
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    run "$JB" mark metric val_accuracy 0.9 --index 3
    [ "$status" -eq 0 ]
    [ -z "$output" ]
}

@test "mark --strict without a recorder fails and says why" {
    run "$JB" mark begin epoch --strict
    [ "$status" -eq 125 ]
    [[ "$output" == *JOULEBENCH_SOCKET* ]]
}

@test "mark rejects bad names, numbers and kinds with exit 124" {
    run "$JB" mark begin 'bad name'
    [ "$status" -eq 124 ]; [[ "$output" == *"name 'bad name'"* ]]
    run "$JB" mark metric acc NaN
    [ "$status" -eq 124 ]; [[ "$output" == *"not a finite number"* ]]
    run "$JB" mark metric acc 1e999
    [ "$status" -eq 124 ]
    run "$JB" mark begin epoch 3.5
    [ "$status" -eq 124 ]; [[ "$output" == *"not an integer"* ]]
    run "$JB" mark start epoch
    [ "$status" -eq 124 ]; [[ "$output" == *"begin, end, event or metric"* ]]
    run "$JB" mark metric acc
    [ "$status" -eq 124 ]
    run "$JB" mark begin epoch 1 2
    [ "$status" -eq 124 ]
    run "$JB" mark
    [ "$status" -eq 124 ]
}

@test "mark --help prints usage" {
    run "$JB" mark --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"joulebench mark metric NAME VALUE"* ]]
}

@test "markers from a shell script reach the recorder with the script's pid" {
    run "$SINK" -o "$OUT" -- sh -c '
        "$0" mark begin train
        "$0" mark begin epoch 3
        "$0" mark metric val_accuracy 0.8731 --index 3
        "$0" mark metric loss -1.5e-3
        "$0" mark end epoch --index 3
        "$0" mark event checkpoint/saved
        "$0" mark end train
        echo "$$" > "$1"' "$JB" "$BATS_TEST_TMPDIR/pid"
    [ "$status" -eq 0 ]
    pid=$(cat "$BATS_TEST_TMPDIR/pid")
    cat > "$BATS_TEST_TMPDIR/want" <<W
begin train - - $pid
begin epoch 3 - $pid
metric val_accuracy 3 0.8731 $pid
metric loss - -0.0015 $pid
end epoch 3 - $pid
event checkpoint/saved - - $pid
end train - - $pid
count valid=7 bad=0
W
    diff "$BATS_TEST_TMPDIR/want" "$OUT"
}

@test "a recorder that went away: warning, exit 0; --strict exits 125" {
    run "$SINK" -o "$OUT" -- true
    sock="$BATS_TEST_TMPDIR/gone.sock"
    JOULEBENCH_SOCKET="$sock" run "$JB" mark event x
    [ "$status" -eq 0 ]
    [[ "$output" == *"not delivered"* ]]
    JOULEBENCH_SOCKET="$sock" run "$JB" mark event x --strict
    [ "$status" -eq 125 ]
}

@test "the workload's exit status and bad datagrams pass through the sink" {
    run "$SINK" -o "$OUT" -- sh -c 'python3 -c "
import os, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
p = os.environ[\"JOULEBENCH_SOCKET\"]
s.sendto(b\"v1 1 2 begin ok 1\", p)
s.sendto(b\"v1 1 2 metric x nan\", p)
s.sendto(os.urandom(64).replace(b\"v\", b\"w\"), p)
s.sendto(b\"v1 1 2 end ok 1\", p)
"; exit 3'
    [ "$status" -eq 3 ]
    grep -q '^begin ok 1 - 2$' "$OUT"
    grep -q '^bad non-finite value$' "$OUT"
    grep -q '^end ok 1 - 2$' "$OUT"
    grep -q '^count valid=2 bad=2$' "$OUT"
}

#!/usr/bin/env bats
# demo.bats -- examples/demo.sh (`make demo`) end to end at toy size: data and
# base checkpoint generated and cached, the spec written from
# examples/flowers.yml, the experiment run, demo/report.html written, the
# summary printed; the PyTorch variant dropped with a visible reason when
# torch cannot be imported; REPS=30 keeps the full method's phases; bad
# settings are refused before anything runs.

setup() {
    BUILD=${BUILD:-build}
    TOP=${JB_TOP:-$PWD}
    [ -x "$TOP/$BUILD/jb-cnn" ] || skip "jb-cnn not built (make all)"
    [ -x "$JB" ] || skip "joulebench not built (\$JB=$JB)"
    TMP=$(mktemp -d)
    export BUILD DEMO="$TMP/demo" SIZE=40 PER_CLASS=8 EPOCHS=2 THREADS=1
    export PRETRAIN_PER_CLASS=6 PRETRAIN_EPOCHS=1 PRETRAIN_SIZE=32
}

teardown() {
    rm -rf "$TMP"
}

@test "demo: toy run without torch writes the spec, the store, report.html and a summary" {
    PYTHON=/bin/false REPS=1 PHASE_S=1 run "$TOP/examples/demo.sh"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"own_cnn_pytorch SKIPPED: /bin/false cannot import torch and PIL"* ]]
    ! grep -q own_cnn_pytorch "$DEMO/flowers.yml"
    grep -q '^name: flowers-demo$' "$DEMO/flowers.yml"
    grep -q 'repetitions: {scenario: 1, baseline: 1, idle: 1}' "$DEMO/flowers.yml"
    # every variant and the idle command use the generated data and settings
    [ "$(grep -c "\"$DEMO/data/flowers-s40-n8\"" "$DEMO/flowers.yml")" -eq 3 ]
    grep -q -- '--init-from, "'"$DEMO"'/data/mobilenetv2-a0.5-k15-s32-n6-e1-lr0.005.ckpt"' "$DEMO/flowers.yml"
    [ -f "$DEMO/data/mobilenetv2-a0.5-k15-s32-n6-e1-lr0.005.ckpt" ]
    # the base is pretrained on 15 shape classes; the transfer variant runs at
    # the base's input size, the own CNN at SIZE
    [ "$(ls "$DEMO/data/pretrain-k15-s32-n6" | wc -l)" -eq 15 ]
    sed -n '/^  mobilenetv2_transfer:/,/timeout/p' "$DEMO/flowers.yml" | tr -d '\n ' | grep -q -- '--size,"32"'
    sed -n '/^  own_cnn:/,/timeout/p' "$DEMO/flowers.yml" | tr -d '\n ' | grep -q -- '--size,"40"'
    [ "$(sqlite3 "$DEMO/flowers.db" "SELECT group_concat(phase || ':' || variant || ':' || status, ' ') FROM run WHERE phase <> 'pilot' ORDER BY seq")" = \
      "baseline::ok idle::ok scenario:own_cnn:ok scenario:mobilenetv2_transfer:ok" ]
    grep -q '<svg' "$DEMO/report.html"
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["experiment"]["name"] == "flowers-demo"' "$DEMO/report.json"
    [[ "$output" == *"==== case study summary: flowers-demo"* ]]
    [[ "$output" =~ own_cnn\ +1\ .*not\ reached|own_cnn\ +1\ .*Wh ]]
    [[ "$output" == *"mobilenetv2_transfer "* ]]
    [[ "$output" == *"verdicts"* ]]
    # A second run reuses the cached data and checkpoint and keeps the old store.
    PYTHON=/bin/false REPS=1 PHASE_S=1 DRY_RUN=1 run "$TOP/examples/demo.sh"
    [ "$status" -eq 0 ]
    [[ "$output" != *"wrote "*images* ]]
    [[ "$output" != *pretraining* ]]
}

@test "demo: REPS=30 keeps the full method (auto durations, quiet wait, 10 baseline and idle runs)" {
    /usr/bin/python3 -c 'import torch, PIL' 2>/dev/null || skip "python3-torch or python3-pil missing: the PyTorch variant would be dropped"
    REPS=30 DRY_RUN=1 run "$TOP/examples/demo.sh"
    [ "$status" -eq 0 ]
    grep -q 'repetitions: {scenario: 30, baseline: 10, idle: 10}' "$DEMO/flowers.yml"
    [ "$(grep -c 'duration: auto' "$DEMO/flowers.yml")" -eq 2 ]
    grep -q 'quiet: {threshold: 10' "$DEMO/flowers.yml"
    grep -q 'own_cnn_pytorch:' "$DEMO/flowers.yml"
    # the same hyper-parameters in the C and the PyTorch own CNN
    for v in own_cnn own_cnn_pytorch; do
        sed -n "/^  $v:/,/timeout/p" "$DEMO/flowers.yml" | tr -d '\n ' |
            grep -o -- '--alpha,"1",--size,"40",--epochs,"2",--batch,"32",--lr,"0.001",--threads,"1"'
    done
    [[ "$output" == *"scenario  own_cnn_pytorch       30"* ]]
}

@test "demo: bad settings are refused before anything runs" {
    REPS=abc run "$TOP/examples/demo.sh"
    [ "$status" -eq 1 ]
    [[ "$output" == *"REPS=abc: expected a whole number >= 1"* ]]
    EPOCHS=0 run "$TOP/examples/demo.sh"
    [ "$status" -eq 1 ]
    [[ "$output" == *"EPOCHS=0"* ]]
    DATA="$TMP/nowhere" run "$TOP/examples/demo.sh"
    [ "$status" -eq 1 ]
    [[ "$output" == *"DATA=$TMP/nowhere is not a folder"* ]]
    [ ! -e "$DEMO/flowers.db" ]
}

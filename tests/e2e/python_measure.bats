#!/usr/bin/env bats
# python_measure.bats -- `joulebench measure` attributes energy to the actions and epochs that a
# Python workload marks: a KerasCallback in a Keras-like fit loop (no TensorFlow) and a real
# PyTorch training loop (examples/pytorch/flowers.py) must each give one row per epoch with an
# energy figure and val_accuracy. Skips with a visible reason until `measure` supports markers,
# and where python3-torch / python3-pil are missing.
#
# The JSON shape is read tolerantly: any object naming action "epoch" (key action or name) with
# an index, a key containing "energy" and a metric val_accuracy (top level or under "metrics").

setup() {
    PY=/usr/bin/python3
    TOP=${JB_TOP:-$PWD}
    export PYTHONPATH="$TOP/python"
    TMP=$(mktemp -d)
    [ -x "$JB" ] || skip "joulebench binary not built (\$JB=$JB)"
    "$JB" measure --help 2>&1 | grep -qi 'marker' ||
        skip "joulebench measure does not attribute markers yet (its --help names no markers)"
}

teardown() {
    rm -rf "$TMP"
}

# $1: JSON text, $2: epochs expected.
check_epoch_rows() {
    "$PY" - "$1" "$2" <<'PYEOF'
import json, sys
doc, epochs = json.loads(sys.argv[1]), int(sys.argv[2])
rows = {}
def walk(node):
    if isinstance(node, dict):
        name = node.get("action", node.get("name"))
        index = node.get("index", node.get("idx"))
        metrics = node.get("metrics", node) if isinstance(node.get("metrics", node), dict) else node
        energy = [k for k in node if "energy" in k.lower()]
        if name == "epoch" and isinstance(index, int) and energy and "val_accuracy" in metrics:
            rows[index] = (node, metrics["val_accuracy"])
        for v in node.values():
            walk(v)
    elif isinstance(node, list):
        for v in node:
            walk(v)
walk(doc)
assert sorted(rows) == list(range(1, epochs + 1)), sorted(rows)
for index, (row, acc) in rows.items():
    value = acc.get("value", acc.get("last")) if isinstance(acc, dict) else acc
    assert 0 <= float(value) <= 1, row
PYEOF
}

@test "measure: KerasCallback loop gives per-epoch rows with energy and val_accuracy" {
    run "$JB" measure -q -o "$TMP/j.db" --json "$TMP/o.json" --per-index -- "$PY" "$TOP/tests/python/keras_like_fit.py" 3
    [ "$status" -eq 0 ]
    check_epoch_rows "$(cat "$TMP/o.json")" 3
}

@test "measure: a real PyTorch loop gives per-epoch rows with energy and val_accuracy" {
    "$PY" -c 'import torch' 2>/dev/null || skip "python3-torch not installed (apt-get install python3-torch)"
    "$PY" -c 'import PIL' 2>/dev/null || skip "python3-pil not installed"
    "$PY" "$TOP/tests/python/make_images.py" "$TMP/data" --classes 3 --per-class 20 --size 24
    run "$JB" measure -q -o "$TMP/j.db" --json "$TMP/o.json" --per-index -- "$PY" "$TOP/examples/pytorch/flowers.py" train \
        --data "$TMP/data" --size 16 --epochs 2 --batch 16 --threads 2 --seed 1
    [ "$status" -eq 0 ]
    check_epoch_rows "$(cat "$TMP/o.json")" 2
}

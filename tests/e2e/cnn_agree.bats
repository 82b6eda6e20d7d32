#!/usr/bin/env bats
# cnn_agree.bats -- the own CNN in C (build/jb-cnn) and its PyTorch twin
# (examples/pytorch/flowers.py) learn alike: same generated data, split, seed,
# threads, batch, lr and epochs, both under `joulebench measure --per-index`;
# both report the same per-epoch rows and metrics, and their validation
# accuracy, averaged over the last third of the epochs (a single epoch moves
# by +-3 points on 137 validation images), is within 3 points. The full-size
# check with the demo's settings is in bench/cnn/run.sh. Skipped without torch
# and in the sanitizer pass (slow there; PyTorch is not instrumented anyway).

setup() {
    BUILD=${BUILD:-build}
    TOP=${JB_TOP:-$PWD}
    CNN="$TOP/$BUILD/jb-cnn"
    PY=/usr/bin/python3
    [ -z "${JB_SANITIZE:-}" ] || skip "sanitizer build: a timing-heavy comparison; the plain run covers it"
    [ -x "$CNN" ] || skip "jb-cnn not built (make all)"
    [ -x "$JB" ] || skip "joulebench not built (\$JB=$JB)"
    "$PY" -c 'import torch, PIL' 2>/dev/null || skip "python3-torch or python3-pil missing (apt-get install python3-torch python3-pil)"
    TMP=$(mktemp -d)
}

teardown() {
    rm -rf "$TMP"
}

@test "own CNN: C and PyTorch reach validation accuracy within 3 points with the same settings" {
    "$CNN" synth --out "$TMP/d" --per-class 120 --size 32 --seed 42 >/dev/null
    set -- --data "$TMP/d" --model own --alpha 1 --size 32 --epochs 12 --batch 32 --lr 0.001 \
        --threads 2 --seed 42
    run "$JB" measure --no-store -q --per-index --json "$TMP/c.json" -- "$CNN" train "$@"
    [ "$status" -eq 0 ]
    OMP_WAIT_POLICY=passive run "$JB" measure --no-store -q --per-index --json "$TMP/py.json" -- \
        "$PY" "$TOP/examples/pytorch/flowers.py" train "$@"
    [ "$status" -eq 0 ]
    run python3 - "$TMP/c.json" "$TMP/py.json" <<'EOF'
import json, sys
def curve(path):
    d = json.load(open(path))
    rows = [r for r in d["actions"]["per_index"] if r["action"] == "epoch"]
    assert [r["index"] for r in rows] == list(range(1, 13)), (path, rows)
    for r in rows:
        assert r["energy_j"] > 0, r
        assert {"loss", "accuracy", "val_loss", "val_accuracy", "val_f1", "val_correct"} <= set(r["metrics"]), r
    return [r["metrics"]["val_accuracy"] for r in rows]
c, p = curve(sys.argv[1]), curve(sys.argv[2])
mc, mp = sum(c[8:]) / 4, sum(p[8:]) / 4
print("C %s\nPyTorch %s\nmean of epochs 9-12: C %.4f, PyTorch %.4f" % (
    " ".join("%.3f" % v for v in c), " ".join("%.3f" % v for v in p), mc, mp))
assert mc > 0.6 and mp > 0.6, "both must learn (chance is 0.2)"
assert abs(mc - mp) <= 0.03, "more than 3 points apart"
EOF
    echo "$output"
    [ "$status" -eq 0 ]
}

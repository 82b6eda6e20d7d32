#!/usr/bin/env bats
# python_flowers.bats -- examples/pytorch/flowers.py, the PyTorch twin of the C CNN trainer:
# the split rule (test vectors, ratio, seed source), a real own-CNN training run on generated
# images with its markers and metrics, determinism, MobileNetV2 transfer with a frozen
# backbone, bad input, and the missing-torch exit. Tests that need Debian's python3-torch
# skip with a visible reason where it is missing.

setup_file() {
    PY=/usr/bin/python3
    TOP=${JB_TOP:-$PWD}
    export DATA="$BATS_FILE_TMPDIR/flowers"
    if "$PY" -c 'import PIL' 2>/dev/null; then
        "$PY" "$TOP/tests/python/make_images.py" "$DATA" --classes 3 --per-class 40 --corrupt
    fi
}

setup() {
    PY=/usr/bin/python3
    TOP=${JB_TOP:-$PWD}
    export PYTHONPATH="$TOP/python"
    FLOWERS="$TOP/examples/pytorch/flowers.py"
    SINK="$TOP/tests/python/marker_sink.py"
    TMP=$(mktemp -d)
}

teardown() {
    rm -rf "$TMP"
}

need_torch() {
    "$PY" -c 'import torch' 2>/dev/null || skip "python3-torch not installed (apt-get install python3-torch)"
    [ -d "$DATA" ] || skip "python3-pil not installed: cannot generate test images"
}

@test "flowers.py: split hashes are splitmix64 and fnv1a64 (known test vectors)" {
    run "$PY" -c '
import sys; sys.path.insert(0, "'"$TOP"'/examples/pytorch")
import flowers as f
assert f.fnv1a64(b"") == 0xcbf29ce484222325
assert f.fnv1a64(b"a") == 0xaf63dc4c8601ec8c
assert f.fnv1a64(b"foobar") == 0x85944171f73967e8
assert f.splitmix64(1234567) == 6457827717110365317  # Vigna: first output for state 1234567
assert f.splitmix64(0) == 0xe220a8397b1dcdaf
print("ok")
'
    [ "$status" -eq 0 ]
    [ "$output" = "ok" ]
}

@test "flowers.py split: byte-order paths, about 20 % validation, seed from --seed or JOULEBENCH_SEED" {
    [ -d "$DATA" ] || skip "python3-pil not installed: cannot generate test images"
    run "$PY" "$FLOWERS" split --data "$DATA" --seed 7
    [ "$status" -eq 0 ]
    echo "$output" > "$TMP/seed7"
    [ "$(wc -l < "$TMP/seed7")" -eq 121 ]                 # 120 images + the broken one
    LC_ALL=C sort -c -k3,3 "$TMP/seed7"                   # byte order of "class/file"
    val=$(grep -c '^val ' "$TMP/seed7")
    [ "$val" -ge 12 ] && [ "$val" -le 38 ]               # 0.2 of 121, binomial spread
    [ "$(grep -c '^train 2 class2/' "$TMP/seed7")" -gt 0 ]
    JOULEBENCH_SEED=7 run "$PY" "$FLOWERS" split --data "$DATA"
    [ "$output" = "$(cat "$TMP/seed7")" ]
    run "$PY" "$FLOWERS" split --data "$DATA" --seed 8
    [ "$output" != "$(cat "$TMP/seed7")" ]
    # the rule itself, recomputed independently for every file
    "$PY" - "$TMP/seed7" <<'PYEOF'
import sys
M = (1 << 64) - 1
def fnv(b):
    h = 0xcbf29ce484222325
    for c in b: h = ((h ^ c) * 0x100000001b3) & M
    return h
def sm(x):
    z = (x + 0x9E3779B97F4A7C15) & M
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return z ^ (z >> 31)
for line in open(sys.argv[1]):
    part, label, path = line.split()
    assert (sm(7 ^ fnv(path.encode())) % 1000 < 200) == (part == "val"), line
    assert int(label) == int(path.split("/")[0][5:]), line
PYEOF
}

@test "flowers.py train: own CNN learns, sends actions and per-epoch metrics, is deterministic" {
    need_torch
    args=(train --data "$DATA" --size 24 --epochs 6 --lr 0.002 --batch 16 --threads 2 --flip)
    run "$PY" "$SINK" -- "$PY" "$FLOWERS" "${args[@]}" --seed 3 --bench
    [ "$status" -eq 0 ]
    first=$(echo "$output" | grep '^epoch' | sed 's/ (.*//')
    second=$(JOULEBENCH_SEED=3 "$PY" "$FLOWERS" "${args[@]}" 2>/dev/null | grep '^epoch' | sed 's/ (.*//')
    [ "$(echo "$first" | wc -l)" -eq 6 ] && [ "$first" = "$second" ]
    echo "$output" | grep -q 'skipping .*broken.png'
    echo "$output" | grep -q '^data: 3 classes, .* (1 unreadable, skipped); seed 3$'
    "$PY" - "$output" <<'PYEOF'
import re, sys
out = sys.argv[1].splitlines()
printed = {}
for line in out:
    m = re.match(r"epoch (\d+)/6 loss (\S+) accuracy (\S+) val_loss (\S+) val_accuracy (\S+) "
                 r"val_f1 (\S+) val_correct (\d+)/(\d+)", line)
    if m:
        printed[int(m[1])] = dict(loss=float(m[2]), accuracy=float(m[3]), val_loss=float(m[4]),
                                  val_accuracy=float(m[5]), val_f1=float(m[6]),
                                  val_correct=float(m[7]), n=int(m[8]))
assert sorted(printed) == list(range(1, 7)), printed
markers = [l[len("v1 TS PID "):] for l in out if l.startswith("v1 ")]
assert len(markers) == sum(l.startswith("v1 ") for l in out), "bad ts/pid"
expected = ["begin preprocessing", "end preprocessing"]
for e in range(1, 7):
    expected += ["begin epoch %d" % e, "begin train %d" % e, "end train %d" % e,
                 "begin validation %d" % e, "end validation %d" % e, "end epoch %d" % e]
    expected += ["metric %s %d *" % (k, e) for k in
                 ("loss", "accuracy", "val_loss", "val_accuracy", "val_f1", "val_correct")]
expected += ["begin classification", "end classification"]
assert [re.sub(r"^(metric \S+ \d+) \S+$", r"\1 *", m) for m in markers] == expected, markers
for m in markers:
    f = m.split()
    if f[0] == "metric":
        assert abs(float(f[3]) - printed[int(f[2])][f[1]]) <= 5e-5, m
last = printed[6]
assert abs(last["val_accuracy"] - last["val_correct"] / last["n"]) < 1e-4
assert last["val_accuracy"] >= 0.9, last          # the generated classes are learnable
assert printed[1]["val_accuracy"] < 0.9 or printed[1]["loss"] > last["loss"], printed
PYEOF
    echo "$output" | grep -q '^confusion matrix'
    "$PY" -c '
import json, sys
r = json.loads([l for l in sys.argv[1].splitlines() if l.startswith("{")][0])
assert r["model"] == "own" and r["threads"] == 2 and r["batch"] == 16 and r["size"] == 24
assert r["train_images_per_s"] > 0 and r["infer_images_per_s"] > 0, r
' "$output"
}

@test "flowers.py train: mobilenetv2 transfer keeps the saved backbone frozen" {
    need_torch
    "$PY" -c 'import torchvision' 2>/dev/null || skip "python3-torchvision not installed"
    common=(--data "$DATA" --model mobilenetv2 --alpha 0.35 --size 32 --epochs 1 --threads 2)
    run "$PY" "$FLOWERS" train "${common[@]}" --save "$TMP/base.pt"
    [ "$status" -eq 0 ]
    run "$PY" "$FLOWERS" train "${common[@]}" --base "$TMP/base.pt" --save "$TMP/head.pt"
    [ "$status" -eq 0 ]
    echo "$output" | grep -q '^epoch 1/1 loss'
    "$PY" -c '
import sys, torch
base, head = torch.load(sys.argv[1]), torch.load(sys.argv[2])
keys = [k for k in base["state"] if k.startswith("features.")]
assert keys and all(torch.equal(base["state"][k], head["state"][k]) for k in keys)
assert not torch.equal(base["state"]["classifier.1.weight"], head["state"]["classifier.1.weight"])
' "$TMP/base.pt" "$TMP/head.pt"
    run "$PY" "$FLOWERS" train "${common[@]}" --base "$TMP/base.pt" --fine-tune 2 --save "$TMP/ft.pt"
    [ "$status" -eq 0 ]
    "$PY" -c '
import sys, torch
base, ft = torch.load(sys.argv[1])["state"], torch.load(sys.argv[2])["state"]
assert torch.equal(base["features.0.0.weight"], ft["features.0.0.weight"])      # bottom: frozen
assert not torch.equal(base["features.18.0.weight"], ft["features.18.0.weight"])  # top: trained
' "$TMP/base.pt" "$TMP/ft.pt"
}

@test "flowers.py: bad input gives a clear message and a non-zero exit, never a traceback" {
    need_torch
    mkdir -p "$TMP/empty" "$TMP/one/only"
    cp "$DATA"/class0/img000.png "$TMP/one/only/"
    run "$PY" "$FLOWERS" train --data "$TMP/missing"
    [ "$status" -eq 2 ] && [[ "$output" == *"not a directory"* ]]
    run "$PY" "$FLOWERS" train --data "$TMP/empty"
    [ "$status" -eq 2 ] && [[ "$output" == *"need at least 2"* ]]
    run "$PY" "$FLOWERS" train --data "$TMP/one"
    [ "$status" -eq 2 ] && [[ "$output" == *"found 1 class folder"* ]]
    head -c 100 /dev/urandom > "$TMP/junk.pt"
    run "$PY" "$FLOWERS" train --data "$DATA" --model mobilenetv2 --base "$TMP/junk.pt"
    [ "$status" -eq 2 ] && [[ "$output" == *"not a readable checkpoint"* ]]
    run "$PY" "$FLOWERS" train --data "$DATA" --size 16 --epochs 1 --save "$TMP/own.pt"
    [ "$status" -eq 0 ]
    run "$PY" "$FLOWERS" train --data "$DATA" --model mobilenetv2 --base "$TMP/own.pt"
    [ "$status" -eq 2 ] && [[ "$output" == *"checkpoint is own"* ]]
    run "$PY" "$FLOWERS" train --data "$DATA" --epochs 0
    [ "$status" -eq 2 ] && [[ "$output" == *"--epochs 0: must be at least 1"* ]]
    run "$PY" "$FLOWERS" train --data "$DATA" --val-split 1.5
    [ "$status" -eq 2 ]
    [[ "$output" != *Traceback* ]]
}

@test "flowers.py: without torch it exits 77 and says what to install" {
    PYTHONPATH="$TOP/tests/python/no_torch" run "$PY" "$FLOWERS" train --data "$TMP"
    [ "$status" -eq 77 ]
    [ "$output" = "flowers.py: torch not available: install python3-torch" ]
}

#!/bin/sh
# bench/cnn/run.sh — training and inference images/s of the case-study
# networks in C (build/jb-cnn) and in the PyTorch twin
# (examples/pytorch/flowers.py --bench, skipped with a message when it or
# torch is missing), same data, threads, batch and epochs, in one run:
#   own CNN at 64x64, MobileNetV2 alpha 0.5 at 96x96 (from scratch and with
#   a frozen backbone).
# Each trainer runs EPOCHS epochs on a generated flower set under
# `joulebench measure --per-index --json` (energy per epoch: the mean of the
# epoch rows; ESTIMATED where no power meter is readable); the C figure is
# the last epoch's training images/s and the classification pass's inference
# images/s; `jb-cnn bench` adds the compute-only figure on random data.
# Then the accuracy check of issue 7: the own CNN in C and in PyTorch with the
# demo's settings (AGREE_PER_CLASS=200 images per class, AGREE_SIZE=64,
# AGREE_EPOCHS=8, same seed, split, threads, batch, lr) must reach validation
# accuracies within 3 points; exit status 1 if not (AGREE=0 skips it).
#
#   bench/cnn/run.sh                 # THREADS=2 BATCH=32 EPOCHS=2 PER_CLASS=64
#
# The load average is printed before and after: on a shared machine figures
# are only comparable while it stays below the number of CPUs.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
THREADS=${THREADS:-2}
BATCH=${BATCH:-32}
EPOCHS=${EPOCHS:-2}
PER_CLASS=${PER_CLASS:-64}
AGREE=${AGREE:-1}
AGREE_PER_CLASS=${AGREE_PER_CLASS:-200}
AGREE_SIZE=${AGREE_SIZE:-64}
AGREE_EPOCHS=${AGREE_EPOCHS:-8}
JBCNN=$TOP/$BUILD/jb-cnn
JB=$TOP/$BUILD/joulebench
PYTWIN=$TOP/examples/pytorch/flowers.py
PY=${PYTHON:-/usr/bin/python3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT INT TERM

[ -x "$JBCNN" ] && [ -x "$JB" ] || make -C "$TOP" -s all
echo "host: $(nproc) CPUs,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "settings: threads=$THREADS batch=$BATCH epochs=$EPOCHS images=$((5 * PER_CLASS)) (80/20 split)"

have_py=1
if [ ! -f "$PYTWIN" ]; then
    have_py=0; echo "PyTorch skipped: $PYTWIN is missing"
elif ! "$PY" -c 'import torch, torchvision, PIL' 2>/dev/null; then
    have_py=0; echo "PyTorch skipped: $PY cannot import torch/torchvision/PIL (apt-get install python3-torch python3-torchvision python3-pil)"
fi

# Energy per epoch (mean of the epoch rows, J) and the last val_accuracy from
# a `measure --per-index --json` file: prints "<J/epoch> <val_accuracy> <flag>".
epoch_energy() {
    python3 - "$1" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
rows = [r for r in d["actions"]["per_index"] if r["action"] == "epoch"]
if not rows:
    print("- - -"); sys.exit()
e = sum(r["energy_j"] for r in rows) / len(rows)
acc = rows[-1]["metrics"].get("val_accuracy")
print("%.1f %s %s" % (e, "-" if acc is None else "%.4f" % acc,
                      "estimated" if d["headline"].get("estimated") else "measured"))
PYEOF
}
# measured <json> CMD...: CMD under joulebench measure, its output in $WORK/out
measured() {
    json=$1; shift
    "$JB" measure --no-store -q --per-index --json "$json" -- "$@" >"$WORK/out" 2>&1
}
c_train() { # label data size args...
    label=$1; data=$2; size=$3; shift 3
    measured "$WORK/c.json" "$JBCNN" train --data "$data" --size "$size" --batch "$BATCH" \
        --threads "$THREADS" --epochs "$EPOCHS" "$@" || { echo "C $label failed:"; cat "$WORK/out"; return 0; }
    tr=$(sed -n 's/^epoch .*(\([0-9]*\) img\/s).*/\1/p' "$WORK/out" | tail -1)
    inf=$(sed -n 's/^classification: .*(\([0-9]*\) img\/s)/\1/p' "$WORK/out")
    set -- $(epoch_energy "$WORK/c.json")
    printf '%-8s %-24s train %5s img/s  inference %5s img/s  %7s J/epoch (%s)  val_accuracy %s\n' \
        C "$label" "$tr" "$inf" "$1" "$3" "$2"
}
py_train() { # label data size args...
    label=$1; data=$2; size=$3; shift 3
    [ "$have_py" = 1 ] || return 0
    OMP_WAIT_POLICY=passive measured "$WORK/py.json" "$PY" "$PYTWIN" train --data "$data" \
        --size "$size" --batch "$BATCH" --threads "$THREADS" --epochs "$EPOCHS" --bench "$@" \
        || { echo "PyTorch $label failed:"; tail -5 "$WORK/out"; return 0; }
    line=$(grep '"bench"' "$WORK/out" | tail -1)
    tr=$(echo "$line" | sed -n 's/.*"train_images_per_s": \([0-9]*\).*/\1/p')
    inf=$(echo "$line" | sed -n 's/.*"infer_images_per_s": \([0-9]*\).*/\1/p')
    set -- $(epoch_energy "$WORK/py.json")
    printf '%-8s %-24s train %5s img/s  inference %5s img/s  %7s J/epoch (%s)  val_accuracy %s\n' \
        PyTorch "$label" "$tr" "$inf" "$1" "$3" "$2"
}

"$JBCNN" synth --out "$WORK/f64" --per-class "$PER_CLASS" --size 64 >/dev/null
"$JBCNN" synth --out "$WORK/f96" --per-class "$PER_CLASS" --size 96 >/dev/null

c_train "own 64x64" "$WORK/f64" 64 --model own
py_train "own 64x64" "$WORK/f64" 64 --model own
c_train "mobilenetv2 a0.5 96x96" "$WORK/f96" 96 --model mobilenetv2 --alpha 0.5
py_train "mobilenetv2 a0.5 96x96" "$WORK/f96" 96 --model mobilenetv2 --alpha 0.5
echo "compute only (random data, jb-cnn bench):"
for args in "--model own --size 64" "--model mobilenetv2 --alpha 0.5 --size 96" \
            "--model mobilenetv2 --alpha 0.5 --size 96 --freeze-backbone"; do
    # shellcheck disable=SC2086
    "$JBCNN" bench $args --batch "$BATCH" --threads "$THREADS" --iters 10 | sed 's/^bench /  /'
done

# The accuracy check: own CNN, C against PyTorch, the demo's data and settings.
agree_rc=0
if [ "$AGREE" = 1 ] && [ "$have_py" = 1 ]; then
    echo "accuracy check: own CNN, C vs PyTorch, ${AGREE_PER_CLASS} images/class at ${AGREE_SIZE}x$AGREE_SIZE," \
         "$AGREE_EPOCHS epochs, threads $THREADS, batch $BATCH, lr 0.001, seed 42"
    "$JBCNN" synth --out "$WORK/agree" --per-class "$AGREE_PER_CLASS" --size "$AGREE_SIZE" --seed 42 >/dev/null
    set -- --data "$WORK/agree" --model own --alpha 1 --size "$AGREE_SIZE" --epochs "$AGREE_EPOCHS" \
        --batch "$BATCH" --lr 0.001 --threads "$THREADS" --seed 42
    measured "$WORK/ac.json" "$JBCNN" train "$@" || { cat "$WORK/out"; exit 1; }
    OMP_WAIT_POLICY=passive measured "$WORK/ap.json" "$PY" "$PYTWIN" train "$@" || { tail -5 "$WORK/out"; exit 1; }
    ca=$(epoch_energy "$WORK/ac.json"); pa=$(epoch_energy "$WORK/ap.json")
    python3 - "$ca" "$pa" <<'PYEOF' || agree_rc=1
import sys
(ce, cacc, cflag), (pe, pacc, pflag) = (a.split() for a in sys.argv[1:3])
diff = 100 * abs(float(cacc) - float(pacc))
print("  C       val_accuracy %s  %s J/epoch (%s)" % (cacc, ce, cflag))
print("  PyTorch val_accuracy %s  %s J/epoch (%s)" % (pacc, pe, pflag))
ok = diff <= 3
print("  %.1f points apart: %s" % (diff, "PASS (within 3 points)" if ok else "FAIL (more than 3 points)"))
sys.exit(0 if ok else 1)
PYEOF
elif [ "$AGREE" = 1 ]; then
    echo "accuracy check skipped: no PyTorch (see above)"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $agree_rc

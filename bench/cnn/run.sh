#!/bin/sh
# bench/cnn/run.sh — training and inference images/s of the case-study
# networks in C (build/jb-cnn) and in the PyTorch twin
# (examples/pytorch/flowers.py --bench, skipped with a message when it or
# torch is missing), same data, threads, batch and epochs, in one run:
#   own CNN at 64x64, MobileNetV2 alpha 0.5 at 96x96 (from scratch and with
#   a frozen backbone).
# Each trainer runs EPOCHS epochs on a generated flower set; the C figure is
# the last epoch's training images/s and the classification pass's inference
# images/s; `jb-cnn bench` adds the compute-only figure on random data.
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
JBCNN=$TOP/$BUILD/jb-cnn
PYTWIN=$TOP/examples/pytorch/flowers.py
PY=${PYTHON:-/usr/bin/python3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT INT TERM

[ -x "$JBCNN" ] || make -C "$TOP" -s "$BUILD/jb-cnn"
echo "host: $(nproc) CPUs,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "settings: threads=$THREADS batch=$BATCH epochs=$EPOCHS images=$((5 * PER_CLASS)) (80/20 split)"

have_py=1
if [ ! -f "$PYTWIN" ]; then
    have_py=0; echo "PyTorch skipped: $PYTWIN is missing"
elif ! "$PY" -c 'import torch, torchvision, PIL' 2>/dev/null; then
    have_py=0; echo "PyTorch skipped: $PY cannot import torch/torchvision/PIL (apt-get install python3-torch python3-torchvision python3-pil)"
fi

c_train() { # label data size args...
    label=$1; data=$2; size=$3; shift 3
    "$JBCNN" train --data "$data" --size "$size" --batch "$BATCH" --threads "$THREADS" \
        --epochs "$EPOCHS" "$@" >"$WORK/out" 2>&1 || { echo "C $label failed:"; cat "$WORK/out"; return 0; }
    tr=$(sed -n 's/^epoch .*(\([0-9]*\) img\/s).*/\1/p' "$WORK/out" | tail -1)
    inf=$(sed -n 's/^classification: .*(\([0-9]*\) img\/s)/\1/p' "$WORK/out")
    acc=$(sed -n 's/^classification: accuracy \([0-9.]*\).*/\1/p' "$WORK/out")
    printf '%-8s %-28s train %6s img/s  inference %6s img/s  val_accuracy %s\n' C "$label" "$tr" "$inf" "$acc"
}
py_train() { # label data size args...
    label=$1; data=$2; size=$3; shift 3
    [ "$have_py" = 1 ] || return 0
    "$PY" "$PYTWIN" train --data "$data" --size "$size" --batch "$BATCH" --threads "$THREADS" \
        --epochs "$EPOCHS" --bench "$@" >"$WORK/py" 2>&1 || { echo "PyTorch $label failed:"; tail -5 "$WORK/py"; return 0; }
    line=$(grep '"bench"' "$WORK/py" | tail -1)
    tr=$(echo "$line" | sed -n 's/.*"train_images_per_s": \([0-9]*\).*/\1/p')
    inf=$(echo "$line" | sed -n 's/.*"infer_images_per_s": \([0-9]*\).*/\1/p')
    acc=$(sed -n 's/.*val_accuracy \([0-9.]*\).*/\1/p' "$WORK/py" | tail -1)
    printf '%-8s %-28s train %6s img/s  inference %6s img/s  val_accuracy %s\n' PyTorch "$label" "$tr" "$inf" "$acc"
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
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

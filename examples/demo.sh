#!/bin/sh
# examples/demo.sh — the case study end to end (`make demo`, docs/case-study.md):
#   1. generates the synthetic flower data set and, on a DIFFERENT generated task
#      (shapes), pretrains the MobileNetV2 base checkpoint; both cached in demo/data/
#   2. writes demo/flowers.yml from the template examples/flowers.yml with the
#      settings below (the PyTorch variant is dropped, with the reason printed,
#      where /usr/bin/python3 cannot import torch and PIL)
#   3. runs it: build/joulebench run demo/flowers.yml -o demo/flowers.db
#   4. writes demo/report.html, demo/report.txt and demo/report.json
#      (joulebench report) and prints a one-screen summary from the JSON.
#
# Settings (environment; defaults take about five minutes on 2 cores):
#   REPS=3         scenario repetitions; >= 30 runs the full method (10 baseline and
#                  10 idle runs as long as the median scenario run, quiet-system wait,
#                  5 s cooldown); below that, baseline and idle runs of 5 s
#   EPOCHS=8 SIZE=64 PER_CLASS=200 THREADS=2 BATCH=32 LR=0.001
#   DATA=DIR       an ImageFolder to use instead of the generated set, e.g. the
#                  tf_flowers photos: DATA=/path/to/flower_photos SIZE=160 EPOCHS=10
#   PRETRAIN_PER_CLASS=600 PRETRAIN_EPOCHS=8 PRETRAIN_SIZE=32 PRETRAIN_LR=0.005
#                  the base checkpoint (cached): 15 shape classes (5 shapes x any
#                  colour / pale / dark), cosine learning rate; the transfer variant
#                  runs at PRETRAIN_SIZE (its frozen batch-norm statistics are
#                  those of that input size)
#   PHASE_S=5      length of a baseline / idle run in seconds (below REPS=30)
#   DRY_RUN=1      prepare data and checkpoint, write demo/flowers.yml, print its plan, stop
#   BUILD=build    where joulebench and jb-cnn are; DEMO=demo the output folder
#   PYTHON=/usr/bin/python3   the interpreter checked for torch and PIL
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
BUILD=${BUILD:-build}
DEMO=${DEMO:-demo}
REPS=${REPS:-3}
EPOCHS=${EPOCHS:-8}
SIZE=${SIZE:-64}
PER_CLASS=${PER_CLASS:-200}
THREADS=${THREADS:-2}
BATCH=${BATCH:-32}
LR=${LR:-0.001}
PRETRAIN_PER_CLASS=${PRETRAIN_PER_CLASS:-600}
PRETRAIN_EPOCHS=${PRETRAIN_EPOCHS:-8}
PRETRAIN_SIZE=${PRETRAIN_SIZE:-32}
PRETRAIN_LR=${PRETRAIN_LR:-0.005}
PRETRAIN_CLASSES=15
PHASE_S=${PHASE_S:-5}
DRY_RUN=${DRY_RUN:-0}
PY=${PYTHON:-/usr/bin/python3}
JB=$BUILD/joulebench
CNN=$BUILD/jb-cnn
T0=$(date +%s)

# The one-screen summary, from `joulebench report --json` (report.json).
summary() {
    python3 - "$1" "$2" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
groups = d["groups"]
est = " (ESTIMATED from CPU utilisation: no power meter here)" if d.get("estimated") else " (measured)"
print("\n==== case study summary: %s, %s, %d cores; meter: %s%s" % (
    d["experiment"]["name"], d["host"].get("cpu_model", "?"), d["host"].get("cores", 0),
    d.get("meters", "?"), est))

def stat(g, key, field="mean"):
    s = g["stats"].get(key) or {}
    return s.get(field)

def fmt(v, f="%.3f"):
    return "-" if v is None else f % v

for g in groups:
    if g["phase"] in ("baseline", "idle"):
        print("%-9s n=%d  mean power %s W, %s Wh per run (%s s)" % (
            g["phase"], g["n_ok"], fmt(stat(g, "mean_power_w"), "%.1f"),
            fmt(stat(g, "energy_wh"), "%.4f"), fmt(stat(g, "duration_s"), "%.1f")))
targets = d.get("targets", [])
print("\n%-22s %3s %8s %9s %8s %7s %9s  %s" % (
    "variant", "n", "time s", "energy Wh", "SIE Wh", "val_acc", "acc/Wh",
    "  ".join("to %s" % t for t in targets)))
scen = [g for g in groups if g["phase"] == "scenario"]
for g in scen:
    tcells = []
    for t in g.get("targets", []):
        e = t.get("energy_wh")
        tcells.append("%.4f Wh" % e["mean"] if e else
                      "not reached (%d/%d)" % (t.get("never_reached", 0),
                                              t.get("reached", 0) + t.get("never_reached", 0)))
    sie = (g.get("software_induced") or {}).get("power_based_wh") or {}
    print("%-22s %3d %8s %9s %8s %7s %9s  %s" % (
        g["variant"], g["n_ok"], fmt(stat(g, "duration_s"), "%.1f"),
        fmt(stat(g, "energy_wh"), "%.4f"), fmt(sie.get("value"), "%.4f"),
        fmt(stat(g, "val_accuracy")), fmt(stat(g, "val_accuracy_per_wh"), "%.1f"),
        "  ".join(tcells)))
    if g.get("n_failed"):
        print("%22s %d run(s) FAILED: see the report" % ("", g["n_failed"]))
print("(energy: whole machine per run, mean; SIE: software-induced = E - P_baseline x T;"
      " val_acc: last epoch; acc/Wh: val_accuracy per Wh)")
ci = d.get("carbon_intensity") or {}
if ci:
    print("carbon at %.0f g CO2e/kWh: %s" % (ci.get("g_per_kwh", 0), ", ".join(
        "%s %.3g g" % (g["variant"], g["carbon_g_mean"]) for g in scen
        if g.get("carbon_g_mean") is not None)))
print("\nverdicts (Welch t-test, Holm-corrected over the comparisons):")
for c in d.get("comparisons", []):
    if c.get("quantity") in ("energy_wh", "sie_power_wh") and c.get("sentence"):
        print("  - " + c["sentence"])
acc = {g["variant"]: stat(g, "val_accuracy") for g in scen}
if acc.get("own_cnn") is not None and acc.get("own_cnn_pytorch") is not None:
    diff = 100 * abs(acc["own_cnn"] - acc["own_cnn_pytorch"])
    print("  - own CNN, C vs PyTorch: validation accuracy %.3f vs %.3f, %.1f points apart (%s)" % (
        acc["own_cnn"], acc["own_cnn_pytorch"], diff,
        "comparable: within 3 points" if diff <= 3 else "NOT within 3 points"))
nw = len(d.get("warnings", []))
if nw:
    print("\n%d warning(s) in the report (%s lists them), e.g.: %s" % (
        nw, sys.argv[2], d["warnings"][0]))
PYEOF
}

say() { printf '== %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }
elapsed() { echo "$(($(date +%s) - T0)) s"; }

[ -x "$JB" ] && [ -x "$CNN" ] || die "$JB or $CNN missing: run 'make all' first (make demo does)"
command -v python3 >/dev/null || die "python3 is needed for the spec and the summary (apt-get install python3)"
for v in REPS EPOCHS SIZE PER_CLASS THREADS BATCH PRETRAIN_PER_CLASS PRETRAIN_EPOCHS PRETRAIN_SIZE PHASE_S; do
    eval "val=\$$v"
    case $val in '' | *[!0-9]* | 0*) die "$v=$val: expected a whole number >= 1" ;; esac
done
mkdir -p "$DEMO/data"
say "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs; other work on the machine slows every run)"

# 1. Data and the base checkpoint (cached: a folder per setting, a .done stamp).
if [ -n "${DATA:-}" ]; then
    [ -d "$DATA" ] || die "DATA=$DATA is not a folder (expected DATA/<class>/*.jpg|png)"
    FLOWERS=$DATA
    say "data: $DATA (given)"
else
    FLOWERS=$DEMO/data/flowers-s$SIZE-n$PER_CLASS
    if [ ! -f "$FLOWERS/.done" ]; then
        rm -rf "$FLOWERS"
        out=$("$CNN" synth --out "$FLOWERS" --task flowers --per-class "$PER_CLASS" \
            --size "$SIZE" --seed 42) || die "generating $FLOWERS failed (see above)"
        echo "   $out"
        touch "$FLOWERS/.done"
    fi
    say "data: $FLOWERS (generated flowers, 5 classes x $PER_CLASS, ${SIZE}x$SIZE)"
fi
case $PRETRAIN_LR in '' | *[!0-9.eE-]*) die "PRETRAIN_LR=$PRETRAIN_LR: expected a number, e.g. 0.005" ;; esac
PRE=$DEMO/data/pretrain-k$PRETRAIN_CLASSES-s$PRETRAIN_SIZE-n$PRETRAIN_PER_CLASS
BASE=$DEMO/data/mobilenetv2-a0.5-k$PRETRAIN_CLASSES-s$PRETRAIN_SIZE-n$PRETRAIN_PER_CLASS-e$PRETRAIN_EPOCHS-lr$PRETRAIN_LR.ckpt
if [ ! -f "$BASE" ]; then
    if [ ! -f "$PRE/.done" ]; then
        rm -rf "$PRE"
        out=$("$CNN" synth --out "$PRE" --task pretrain --classes "$PRETRAIN_CLASSES" \
            --per-class "$PRETRAIN_PER_CLASS" --size "$PRETRAIN_SIZE" --seed 7) ||
            die "generating $PRE failed (see above)"
        echo "   $out"
        touch "$PRE/.done"
    fi
    say "pretraining the MobileNetV2 base on another task ($PRETRAIN_CLASSES shape classes, ${PRETRAIN_SIZE}x$PRETRAIN_SIZE), $PRETRAIN_EPOCHS epochs; cached as $BASE"
    rm -f "$BASE.tmp"
    "$CNN" train --data "$PRE" --model mobilenetv2 --alpha 0.5 --size "$PRETRAIN_SIZE" \
        --epochs "$PRETRAIN_EPOCHS" --batch "$BATCH" --lr "$PRETRAIN_LR" --cosine --flip \
        --threads "$THREADS" --seed 7 --save "$BASE.tmp" |
        grep --line-buffered -E '^(epoch|classification)' | sed 's/^/   /'
    [ -f "$BASE.tmp" ] || die "pretraining the base checkpoint failed (see above)"
    mv "$BASE.tmp" "$BASE"
fi
say "base checkpoint: $BASE (pretrained on shapes, never saw a flower) [$(elapsed)]"

# 2. The effective spec.
HAVE_TORCH=1
if ! "$PY" -c 'import torch, PIL' 2>/dev/null; then
    HAVE_TORCH=0
    say "own_cnn_pytorch SKIPPED: $PY cannot import torch and PIL (apt-get install python3-torch python3-pil)"
fi
SPEC=$DEMO/flowers.yml
export FLOWERS BASE REPS EPOCHS SIZE THREADS BATCH LR HAVE_TORCH PHASE_S PRETRAIN_SIZE
python3 - examples/flowers.yml "$SPEC" <<'PYEOF' || die "could not write $SPEC from examples/flowers.yml"
# The template's values, replaced one by one; a value that is not found means
# the template changed: stop rather than run a half-edited spec.
import json, os, re, sys
src, dst = sys.argv[1], sys.argv[2]
e = os.environ
reps, epochs = int(e["REPS"]), int(e["EPOCHS"])
text = open(src).read()

def sub(pattern, repl, count_min=1):
    global text
    text, n = re.subn(pattern, lambda m: m.expand(repl) if "\\g<" in repl else repl, text)
    if n < count_min:
        sys.exit("demo: template %s no longer has %r (%d of %d)" % (src, pattern, n, count_min))

# A JSON string is a valid YAML double-quoted scalar (any path works).
sub(r"demo/data/flowers(?=[,\]\s])", json.dumps(e["FLOWERS"]), 4)
sub(r"demo/data/mobilenetv2-base\.ckpt", json.dumps(e["BASE"]))
vals = {"size": e["SIZE"], "epochs": str(epochs), "threads": e["THREADS"], "batch": e["BATCH"],
        "lr": e["LR"]}
for opt, val in vals.items():
    sub(r'--%s,(\s*)"[^"]*"' % opt, r'--%s,\g<1>"%s"' % (opt, val), 3)
# The transfer variant runs at the base checkpoint's input size.
sub(r'(?m)(^  mobilenetv2_transfer:\n(?:    .*\n)*?.*--size,\s*)"[^"]*"',
    r'\g<1>"%s"' % e["PRETRAIN_SIZE"])
sub(r"(?m)^name: .*$", "name: flowers-demo")
sub(r"\{epoch: \d+\}", "{epoch: %d}" % max(1, epochs // 2))
sub(r"timeout: 60m", "timeout: 20m", 3)
if reps >= 30:  # the full method: the template's phases and controls
    sub(r"repetitions: \{[^}]*\}", "repetitions: {scenario: %d, baseline: 10, idle: 10}" % reps)
else:  # small: short fixed baseline and idle windows, no quiet wait, short cooldown
    sub(r"repetitions: \{[^}]*\}",
        "repetitions: {scenario: %d, baseline: %d, idle: %d}" % (reps, reps, reps))
    sub(r"duration: auto[^\n]*", "duration: %ss" % e["PHASE_S"], 2)
    sub(r"(?m)^  quiet: .*$", "  quiet: false  # the demo's machine may be shared: no quiet wait")
    sub(r"cooldown: \{seconds: \d+\}", "cooldown: {seconds: 1}")
if e["HAVE_TORCH"] != "1":
    sub(r"(?m)^  own_cnn_pytorch:\n(?:    .*\n)+", "")
head = "# GENERATED by examples/demo.sh from %s; edit that file, not this one.\n" % src
open(dst, "w").write(head + text)
PYEOF
say "spec: $SPEC (from examples/flowers.yml: $REPS repetitions, $EPOCHS epochs, ${SIZE}x$SIZE (transfer ${PRETRAIN_SIZE}x$PRETRAIN_SIZE), $THREADS threads, batch $BATCH, lr $LR)"

if [ "$DRY_RUN" = 1 ]; then
    "$JB" run "$SPEC" --dry-run
    exit 0
fi

# 3. Run. An earlier store is kept as flowers.prev.db.
DB=$DEMO/flowers.db
[ -f "$DB" ] && mv -f "$DB" "$DEMO/flowers.prev.db"
rm -f "$DB-wal" "$DB-shm"
say "running the experiment (progress below) [$(elapsed)]"
# The trainers' own output goes to demo/run.log; the runner's lines are shown.
set +e
"$JB" run "$SPEC" -o "$DB" >"$DEMO/run.log" 2>&1 &
RUN_PID=$!
trap 'kill -INT $RUN_PID 2>/dev/null; wait $RUN_PID; echo "demo: interrupted; resume with: $JB run --resume $DB" >&2; exit 130' INT TERM
tail -n +1 -f --pid=$RUN_PID "$DEMO/run.log" | grep --line-buffered -E '^(run [0-9]|pilot|joulebench|resume|warning|error)'
wait $RUN_PID
RUN_RC=$?
trap - INT TERM
set -e
case $RUN_RC in
0) ;;
1) echo "demo: some runs failed (their stderr is in $DEMO/run.log and the report)" >&2 ;;
*) die "joulebench run failed with status $RUN_RC: see $DEMO/run.log" ;;
esac
[ -f "$DB" ] || die "joulebench run wrote no store ($DB)"

# 4. Reports and the summary.
say "reports [$(elapsed)]"
"$JB" report "$DB" --html "$DEMO/report.html" >/dev/null 2>&1 || die "joulebench report --html failed"
"$JB" report "$DB" >"$DEMO/report.txt" 2>&1 || die "joulebench report failed"
"$JB" report "$DB" --json >"$DEMO/report.json" 2>/dev/null || die "joulebench report --json failed"
summary "$DEMO/report.json" "$DEMO/report.txt"
echo
echo "full report: $DEMO/report.html (also $DEMO/report.txt, $DEMO/report.json); store: $DB"
echo "demo took $(elapsed); load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$HAVE_TORCH" = 1 ] || echo "note: the PyTorch variant was skipped (no torch): see above"
exit 0

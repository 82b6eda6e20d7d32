#!/bin/sh
# tests/run.sh — runs every unit test binary ($BUILD/tests/test_*) and every
# end-to-end bats file (tests/e2e/*.bats), then prints one summary line:
# "tests: N passed, M failed, K skipped". Exit status 1 if anything failed.
BUILD=${BUILD:-build}
export BUILD
export JB=${JB:-$PWD/$BUILD/joulebench}
export JB_TOP=$PWD
pass=0; fail=0; skip=0; failed=""
log=$(mktemp)
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    # cmocka prints "[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s)"
    if CMOCKA_MESSAGE_OUTPUT=stdout "$t" >"$log" 2>&1; then st=0; else st=$?; fi
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    s=$(grep -c '^\[  SKIPPED \]' "$log")
    p=${p:-0}; f=${f:-0}
    if [ "$st" != 0 ] && [ "$f" = 0 ]; then f=1; fi
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
    if [ "$f" != 0 ]; then
        failed="$failed $name"; echo "FAIL $name"; cat "$log"
    else
        echo "ok   $name ($p passed${s:+, $s skipped})"
    fi
done
if ls tests/e2e/*.bats >/dev/null 2>&1; then
    for b in tests/e2e/*.bats; do
        name=$(basename "$b")
        bats --tap "$b" >"$log" 2>&1 || true
        p=$(grep -c '^ok .*' "$log" | head -1)
        s=$(grep -c '^ok .* # skip' "$log")
        f=$(grep -c '^not ok' "$log")
        p=$((p - s))
        pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
        if [ "$f" != 0 ] || ! grep -q '^1\.\.' "$log"; then
            [ "$f" = 0 ] && fail=$((fail + 1))
            failed="$failed $name"; echo "FAIL $name"; cat "$log"
        else
            echo "ok   $name ($p passed, $s skipped)"
            grep '# skip' "$log" | sed 's/^/     /'
        fi
    done
fi
rm -f "$log"
echo "tests: $pass passed, $fail failed, $skip skipped"
[ -z "$failed" ] || { echo "failed:$failed"; exit 1; }

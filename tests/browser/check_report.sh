#!/bin/sh
# tests/browser/check_report.sh HTML PNG — open a report in headless Chromium
# (Debian's chromium): dump the DOM after load, check every section and plot
# is there and the console logged no error, and write a screenshot to PNG.
# Exit 0 ok, 1 a check failed, 77 chromium is not installed (skip).
html=$1; png=$2
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "skip: $CHROMIUM not installed (make deps-browser)"; exit 77; }
prof=$(mktemp -d); log=$(mktemp); dom=$(mktemp)
flags="--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
 --disable-background-networking --disable-component-update --disable-sync"
# shellcheck disable=SC2086
timeout 90 "$CHROMIUM" $flags --user-data-dir="$prof" --enable-logging=stderr --v=0 \
    --dump-dom "file://$(realpath "$html")" >"$dom" 2>"$log" || { cat "$log"; exit 1; }
# shellcheck disable=SC2086
timeout 90 "$CHROMIUM" $flags --user-data-dir="$prof" --window-size=1280,4000 \
    --screenshot="$png" "file://$(realpath "$html")" >/dev/null 2>&1 || exit 1
rc=0
for id in overview power energy actions epochs efficiency comparisons statistics utilisation \
          targets reproducibility warnings setup; do
    grep -q "<section id=\"$id\">" "$dom" || { echo "missing section $id"; rc=1; }
done
n=$(grep -o '<svg' "$dom" | wc -l)
[ "$n" -ge 6 ] || { echo "only $n plots"; rc=1; }
if grep -E 'CONSOLE|Uncaught|console' "$log" | grep -v -i dbus; then echo "console errors"; rc=1; fi
[ -s "$png" ] || { echo "no screenshot"; rc=1; }
rm -rf "$prof" "$log" "$dom"
echo "sections ok, $n plots, screenshot $png"
exit $rc

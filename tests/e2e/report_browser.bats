#!/usr/bin/env bats
# report_browser.bats — the HTML report in a real browser (headless
# Chromium): every section and plot present, no console errors, a PNG written.
# Skips with the reason when /usr/bin/chromium is missing (make deps-browser).

@test "html report renders in headless chromium" {
    [ -x "${CHROMIUM:-/usr/bin/chromium}" ] || skip "chromium not installed (make deps-browser)"
    T=$(mktemp -d)
    JB=$JB "$JB_TOP/tests/browser/make_store.sh" "$T/e.db"
    "$JB" report "$T/e.db" --html "$T/r.html" --target epoch:2 >/dev/null
    run "$JB_TOP/tests/browser/check_report.sh" "$T/r.html" "$T/r.png"
    echo "$output"
    [ "$status" -eq 0 ]
    [ -s "$T/r.png" ]
    rm -rf "$T"
}

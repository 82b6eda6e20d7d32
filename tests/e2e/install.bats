#!/usr/bin/env bats
# install.bats — `make install PREFIX=…` gives a working installation: the
# binary, the C marker library found through pkg-config (static and shared),
# and the Python module; a program built against them sends markers that
# `joulebench measure` attributes.

setup() {
    T=$(mktemp -d)
}

teardown() {
    rm -rf "$T"
}

@test "make install, then a C program built with pkg-config joulebench marks epochs" {
    [ -z "$JB_SANITIZE" ] || skip "sanitizer build: its libraries need the sanitizer runtime; covered by the plain run"
    cd "$JB_TOP"
    make -s install PREFIX=$T/prefix BUILD=${BUILD:-build} >/dev/null
    [ -x $T/prefix/bin/joulebench ]
    [ -f $T/prefix/lib/python3/dist-packages/joulebench.py ]
    cat > $T/w.c <<'C'
#include <joulebench.h>
#include <unistd.h>
int main(void) {
    for (int e = 1; e <= 2; e++) {
        jb_begin("epoch", e);
        usleep(100000);
        jb_metric("val_accuracy", e, 0.5 + e / 10.0);
        jb_end("epoch", e);
    }
    return jb_dropped() != 0;
}
C
    export PKG_CONFIG_PATH=$T/prefix/lib/pkgconfig
    cc -o $T/w $T/w.c $(pkg-config --cflags --libs joulebench) -Wl,-rpath,$T/prefix/lib
    cc -o $T/ws $T/w.c $(pkg-config --cflags joulebench) $T/prefix/lib/libjoulebench.a -pthread
    for bin in $T/w $T/ws; do
        run $T/prefix/bin/joulebench measure --no-store -q --json $T/o.json -- $bin
        [ "$status" -eq 0 ]
        n=$(/usr/bin/python3 -c "import json; j=json.load(open('$T/o.json')); print(len([r for r in j['actions']['per_index'] if r['action']=='epoch' and 'val_accuracy' in r['metrics']]))")
        [ "$n" = 2 ]
    done
    # without a recorder the same program runs and sends nothing
    run $T/w
    [ "$status" -eq 0 ]
}

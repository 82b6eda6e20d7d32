#!/usr/bin/env bats
# measure.bats — end-to-end tests of `joulebench measure`: what it reports
# for real workloads, the store it leaves, bad input, and SIGINT.

bats_require_minimum_version 1.5.0

setup() {
    T=$(mktemp -d)
    export JOULEBENCH_DB=$T/j.db
}

teardown() {
    rm -rf "$T"
}

jq_py() { # jq_py FILE EXPR -> prints python expression over the parsed JSON j
    /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"
}

@test "help and version" {
    run "$JB" measure --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"--interval"* ]]
    run "$JB" --version
    [[ "$output" == "joulebench "* ]]
    for c in sources measure; do run "$JB" $c --help; [ "$status" -eq 0 ]; done
}

@test "exit status of the command is passed through" {
    run "$JB" measure -q -- sh -c 'exit 7'
    [ "$status" -eq 7 ]
    run sqlite3 "$JOULEBENCH_DB" "select status, exit_code from run"
    [ "$output" = "failed|7" ]
}

@test "dd with O_DIRECT: at least 200 MB written by the process tree" {
    cd "$T"
    run "$JB" measure --json out.json -q -- dd if=/dev/zero of=$T/f bs=1M count=200 oflag=direct
    [ "$status" -eq 0 ]
    w=$(jq_py out.json 'int(j["usage"]["process_written_bytes"])')
    echo "written $w"
    [ "$w" -ge 200000000 ]
}

@test "CPU burned by a grandchild shows in the process tree" {
    run "$JB" measure --json $T/o.json -q -- sh -c 'sh -c "i=0; while [ \$i -lt 200000 ]; do i=\$((i+1)); done"'
    [ "$status" -eq 0 ]
    cpu=$(jq_py $T/o.json 'j["usage"]["process_cpu_s"]')
    echo "tree cpu $cpu s"
    /usr/bin/python3 -c "import sys; sys.exit(0 if float('$cpu') > 0.2 else 1)"
}

@test "an orphaned grandchild keeps counting after its parent exits" {
    # the middle shell exits at once; the busy grandchild is re-parented to joulebench
    run "$JB" measure --json $T/o.json -q -- sh -c '( i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done ) & sleep 0.2; wait'
    cpu=$(jq_py $T/o.json 'j["usage"]["process_cpu_s"]')
    echo "tree cpu $cpu s"
    /usr/bin/python3 -c "import sys; sys.exit(0 if float('$cpu') > 0.15 else 1)"
}

@test "two busy loops on all cores read about 100 % system CPU" {
    n=$(nproc)
    run "$JB" measure --json $T/o.json -q -- sh -c "for k in \$(seq $n); do (end=\$((\$(date +%s)+2)); while [ \$(date +%s) -lt \$end ]; do :; done) & done; wait"
    cpu=$(jq_py $T/o.json 'j["usage"]["cpu_pct"]')
    echo "system cpu $cpu %"
    /usr/bin/python3 -c "import sys; sys.exit(0 if float('$cpu') > 85 else 1)"
}

@test "estimated energy is labelled estimated in every output" {
    run "$JB" measure --json $T/o.json --csv $T/o.csv -- sleep 0.3
    [ "$status" -eq 0 ]
    [[ "$output" == *"ESTIMATED"* ]]
    [ "$(jq_py $T/o.json 'j["headline"]["estimated"]')" = "True" ]
    grep -q '^energy.total,.*,J,1$' $T/o.csv
}

@test "--json - and --csv -: stdout carries only the summary, the command's stdout goes to stderr" {
    "$JB" measure -q --json - -- sh -c 'echo out-of-cmd; echo err-of-cmd >&2' > $T/out 2> $T/err
    python3 -c 'import json, sys; json.load(open(sys.argv[1]))' $T/out
    grep -q out-of-cmd $T/err
    grep -q err-of-cmd $T/err
    ! grep -q of-cmd $T/out
    "$JB" measure -q --csv - -- sh -c 'echo out-of-cmd' > $T/out.csv 2> $T/err2
    grep -q out-of-cmd $T/err2
    ! grep -q out-of-cmd $T/out.csv
    # to a file, the command keeps its stdout
    "$JB" measure -q --json $T/o.json -- sh -c 'echo out-of-cmd' > $T/out3
    grep -q out-of-cmd $T/out3
}

@test "the store keeps host, run, channels, samples and sampling quality" {
    run "$JB" measure -q -i 20ms -- sleep 0.5
    [ "$status" -eq 0 ]
    [ "$(sqlite3 $JOULEBENCH_DB 'select count(*) from host where cores>0 and kernel<>"" and jb_version<>""')" = 1 ]
    [ "$(sqlite3 $JOULEBENCH_DB 'select status from run')" = ok ]
    # samples taken (a stretch of unchanged values is stored as its first and last row)
    n=$(sqlite3 $JOULEBENCH_DB "select json_extract(quality,'\$.samples') from run")
    echo "samples $n"
    [ "$n" -ge 20 ]
    rows=$(sqlite3 $JOULEBENCH_DB 'select count(*) from sample s join channel c on c.id=s.channel_id where c.name="cpu/total"')
    [ "$rows" -ge 2 ]
    sqlite3 $JOULEBENCH_DB 'select quality from run' | grep -q interval_p95_ms
    [ "$(sqlite3 $JOULEBENCH_DB 'select value from meta where key="schema_version"')" = 2 ]
    # a finished run leaves nothing staged: every row is in sample
    [ "$(sqlite3 $JOULEBENCH_DB 'select count(*) from sample_recent')" = 0 ]
}

@test "fake powercap tree: measured (not estimated) RAPL energy, exact" {
    R=$T/root
    mkdir -p $R/sys/class/powercap/intel-rapl:0 $R/proc
    cp /proc/stat /proc/meminfo /proc/diskstats $R/proc/ 2>/dev/null || true
    mkdir -p $R/proc/net && cp /proc/net/dev $R/proc/net/dev
    echo package-0 > $R/sys/class/powercap/intel-rapl:0/name
    echo 1000000000 > $R/sys/class/powercap/intel-rapl:0/max_energy_range_uj
    echo 999000000 > $R/sys/class/powercap/intel-rapl:0/energy_uj
    # the workload moves the counter by 5 J across a wrap, well inside the run
    run "$JB" measure --root $R -s rapl -i 10ms --json $T/o.json -q -- sh -c \
      "sleep 0.2; echo 4000000 > $R/sys/class/powercap/intel-rapl:0/energy_uj; sleep 0.2"
    [ "$status" -eq 0 ]
    [ "$(jq_py $T/o.json 'j["headline"]["estimated"]')" = "False" ]
    e=$(jq_py $T/o.json '"%.6f" % j["headline"]["energy_j"]')
    [ "$e" = "5.000001" ]
}

@test "bad input: unknown source, invalid interval, missing command, not found" {
    run "$JB" measure -s nosuch -- true
    [ "$status" -eq 124 ]
    [[ "$output" == *"unknown source 'nosuch'"* ]]
    [ "${#lines[@]}" -eq 1 ]
    run "$JB" measure -i 0.5ms -- true
    [ "$status" -eq 124 ]
    [[ "$output" == *"invalid interval"* ]]
    run "$JB" measure -i 2m -- true
    [ "$status" -eq 124 ]
    run "$JB" measure
    [ "$status" -eq 124 ]
    run -127 "$JB" measure -- /nonexistent/cmd
    [ "$status" -eq 127 ]
    [[ "$output" == *"not found"* ]]
    [ "$(sqlite3 $JOULEBENCH_DB 'select status, exit_code from run')" = "failed|127" ]
}

@test "bad input: an unreadable /sys file is explained" {
    R=$T/root
    mkdir -p $R/sys/class/powercap/intel-rapl:0/energy_uj
    echo package-0 > $R/sys/class/powercap/intel-rapl:0/name
    run "$JB" measure --root $R -s rapl -- true
    [ "$status" -eq 125 ]
    [[ "$output" == *"energy_uj"* ]]
    [ "${#lines[@]}" -eq 1 ]
}

@test "SIGINT: the child is stopped, data committed, run marked aborted" {
    "$JB" measure -q -i 10ms -- sleep 30 &
    pid=$!
    sleep 1.5
    kill -INT $pid
    wait $pid || st=$?
    echo "status $st"
    [ "$st" -eq 130 ]
    [ "$(sqlite3 $JOULEBENCH_DB 'select status from run')" = aborted ]
    # the samples cover the whole 1.5 s until the interrupt
    span=$(sqlite3 $JOULEBENCH_DB 'select (max(t_ns)-min(t_ns))/1000000 from sample')
    echo "samples span $span ms"
    [ "$span" -ge 1300 ]
    ! pgrep -f "sleep 30" -P $pid
}

@test "SIGKILL of the recorder: the store stays readable, the run is marked aborted on reopen" {
    "$JB" measure -q -i 10ms -- sleep 30 &
    pid=$!
    sleep 2.5
    kill -9 $pid
    wait $pid || true
    pkill -f "^sleep 30$" || true
    # committed about once a second: at most the last second is lost; the
    # killed recorder's newest rows are still staged in sample_recent
    both='select (max(t_ns)-min(t_ns))/1000000 from (select t_ns from sample union all select t_ns from sample_recent)'
    span=$(sqlite3 $JOULEBENCH_DB "$both")
    echo "samples kept span $span ms of 2500"
    [ "$span" -ge 1400 ]
    # reopening for writing moves the staged rows into sample and marks the run
    "$JB" measure -q -o $JOULEBENCH_DB -- true
    [ "$(sqlite3 $JOULEBENCH_DB 'select status from run where id=1')" = aborted ]
    [ "$(sqlite3 $JOULEBENCH_DB 'select count(*) from sample_recent')" = 0 ]
    span1=$(sqlite3 $JOULEBENCH_DB 'select (max(s.t_ns)-min(s.t_ns))/1000000 from sample s join channel c on c.id=s.channel_id where c.run_id=1')
    [ "$span1" = "$span" ]
    end_ok=$(sqlite3 $JOULEBENCH_DB 'select (r.end_ns = (select max(s.t_ns) from sample s join channel c on c.id=s.channel_id where c.run_id=1)) from run r where r.id=1')
    [ "$end_ok" = 1 ]
}

@test "sources lists every source with a reason and a fix when unusable" {
    run "$JB" sources
    [ "$status" -eq 0 ]
    [[ "$output" == *"rapl"* ]]
    [[ "$output" == *"fix:"* ]]
    [[ "$output" == *"auto picks:"* ]]
}

@test "windows shorter than the meter's update period are flagged (fake NVML)" {
    lib=$JB_TOP/${BUILD:-build}/tests/fake/libnvidia-ml.so.1
    [ -f "$lib" ] || skip "fake NVML not built"
    export FAKE_NVML_MODE=counter FAKE_NVML_POWER_W=150 JOULEBENCH_NVML_LIB=$lib
    # an action of a few ms inside a run long enough to be resolved
    run "$JB" measure -s nvml -i 10ms --json $T/o.json -- sh -c "$JB mark begin tiny; $JB mark end tiny; sleep 0.3"
    [ "$status" -eq 0 ]
    [[ "$output" == *"shorter than the meter's 100 ms update period"* ]]
    [[ "$output" != *"shorter than the update period of the energy meter"* ]]
    [ "$(jq_py $T/o.json 'j["actions"]["rows"][0]["shorter_than_meter_window"]')" = True ]
    [ "$(jq_py $T/o.json 'j["headline"]["estimated"]')" = False ]
    # a whole run shorter than the update period (`true` takes a few ms, even under ASan)
    run "$JB" measure -s nvml -i 10ms -- true
    [ "$status" -eq 0 ]
    [[ "$output" == *"shorter than the update period of the energy meter (100 ms)"* ]]
    run "$JB" report "$JOULEBENCH_DB"
    [[ "$output" == *"shorter than the energy meter's update period"* ]]
}

@test "a run too short for interval statistics stores null, not a fake number, and no poor-sampling warning" {
    run "$JB" measure -- true
    [ "$status" -eq 0 ]
    [[ "$output" == *"too short for interval statistics"* ]]
    [ "$(sqlite3 $JOULEBENCH_DB "select json_type(quality,'$.interval_p95_ms') from run")" = null ]
    run "$JB" report "$JOULEBENCH_DB"
    [[ "$output" != *"poor sampling"* ]]
}

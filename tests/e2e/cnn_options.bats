#!/usr/bin/env bats
# cnn_options.bats -- the command line of the case-study trainer (build/jb-cnn):
# an unknown option and a bad or out-of-range value each give one line that
# names them and exit status 2, and `--help` of every subcommand lists the
# options that subcommand takes (and only options it accepts). Needs only jb-cnn;
# nothing here trains or writes data.

setup() {
    BUILD=${BUILD:-build}
    TOP=${JB_TOP:-$PWD}
    CNN="$TOP/$BUILD/jb-cnn"
    [ -x "$CNN" ] || skip "jb-cnn not built (make all)"
}

# The options each subcommand takes, as documented in workloads/cnn/README.md.
opts_of() {
    local train="--data --model --alpha --size --epochs --batch --lr --optimizer --threads --seed
        --flip --val-split --cosine --init-from --freeze-backbone --finetune-top --save"
    case $1 in
    synth) echo "--out --classes --per-class --size --seed --task --easy" ;;
    train | idle) echo $train ;;
    split) echo "--data --seed --val-split" ;;
    bench) echo "--model --alpha --size --batch --threads --iters --freeze-backbone" ;;
    esac
}

@test "jb-cnn: an unknown option gives one line naming it, status 2, for every subcommand" {
    for c in synth train idle split bench; do
        run "$CNN" "$c" --bogus
        [ "$status" -eq 2 ] && [ "${#lines[@]}" -eq 1 ] &&
            [ "$output" = "jb-cnn $c: unknown option '--bogus' (jb-cnn $c --help lists them)" ] ||
            { echo "$c: status $status: $output"; false; }
    done
    # an option of another subcommand is just as unknown
    run "$CNN" bench --data /x
    [ "$status" -eq 2 ]
    [[ "$output" == "jb-cnn bench: unknown option '--data'"* ]]
}

@test "jb-cnn: a bad or out-of-range value gives one line with the option, value and range" {
    check() { # check EXPECTED ARGS...: status 2 and exactly the line EXPECTED
        local want=$1
        shift
        run "$CNN" "$@"
        [ "$status" -eq 2 ] && [ "${#lines[@]}" -eq 1 ] && [ "$output" = "$want" ] ||
            { echo "$*: status $status: $output"; false; }
    }
    check "jb-cnn train: --size '5': expected an integer in 8..1024" train --data /x --size 5
    check "jb-cnn synth: --classes '16': expected an integer in 2..15" synth --out /x --classes 16
    check "jb-cnn bench: --iters '0': expected an integer in 1..1000000" bench --iters 0
    check "jb-cnn idle: --batch 'many': expected an integer in 1..4096" idle --data /x --batch many
    check "jb-cnn split: --val-split 'x': expected a number" split --data /x --val-split x
    check "jb-cnn train: --model 'vgg': expected own or mobilenetv2" train --data /x --model vgg
    check "jb-cnn train: --optimizer 'rms': expected adam or sgd" train --data /x --optimizer rms
    check "jb-cnn synth: --seed '-1': expected a non-negative integer" synth --out /x --seed -1
    check "jb-cnn bench: --threads needs a value (an integer in 1..1024)" bench --threads
    check "jb-cnn synth: --out DIR is required" synth --size 16
    JOULEBENCH_THREADS=0 check "jb-cnn bench: JOULEBENCH_THREADS '0': expected an integer in 1..1024" \
        bench
}

@test "jb-cnn: --help of every subcommand lists its options, and each one is accepted" {
    for c in synth train idle split bench; do
        run "$CNN" "$c" --help
        [ "$status" -eq 0 ]
        [[ "${lines[0]}" == "usage: jb-cnn $c"* ]]
        listed=$(printf '%s\n' "$output" | sed -n 's/^  \(--[a-z-]*\).*/\1/p' | sort | tr '\n' ' ')
        want=$(printf '%s\n' $(opts_of "$c") | sort | tr '\n' ' ')
        [ "$listed" = "$want" ] || { echo "$c: listed '$listed', want '$want'"; false; }
        for o in $listed; do
            # The value (or, for a flag, an unknown word) stops the parse before anything runs.
            run "$CNN" "$c" "$o" x --nope
            [ "$status" -eq 2 ] || { echo "$c $o: status $status: $output"; false; }
            [[ "$output" != *"unknown option '$o'"* ]] || { echo "$c: $output"; false; }
        done
    done
    # The overall usage names every subcommand, with its options.
    run "$CNN" --help
    [ "$status" -eq 0 ]
    for c in synth train idle split bench; do [[ "$output" == *"jb-cnn $c "* ]]; done
    [[ "$output" == *"--per-class N"* && "$output" == *"--iters N"* ]]
}

/*
 * main.c — the jb-cnn command line: `synth` writes a synthetic ImageFolder
 * data set, `train` trains / evaluates a model with joulebench markers,
 * `idle` loads data and model and waits (the idle phase of an experiment),
 * `split` prints the split, `bench` measures training and inference images/s on random data.
 * Exit status: 0 ok, 2 usage error, 1 any other failure (message on stderr).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data.h"
#include "synth.h"
#include "train.h"

static void usage(FILE *f)
{
    fputs("usage:\n"
          "  jb-cnn synth --out DIR [--classes 5] [--per-class 100] [--size 64] [--seed K]\n"
          "               [--task flowers|pretrain] [--easy]\n"
          "  jb-cnn train --data DIR [--model own|mobilenetv2] [--alpha 0.5] [--size 64]\n"
          "               [--epochs 10] [--batch 32] [--lr 1e-3] [--optimizer adam|sgd]\n"
          "               [--threads T] [--seed K] [--flip] [--val-split 0.2]\n"
          "               [--cosine]   (lr: linear warm-up over the first 5 % of the\n"
          "               steps, then cosine decay to 0; default: constant)\n"
          "               [--init-from base.ckpt [--freeze-backbone [--finetune-top N]]]\n"
          "               [--save out.ckpt]\n"
          "  jb-cnn idle --data DIR [train options]   (load data and model, send the event\n"
          "               marker 'ready', wait for SIGTERM/SIGINT, exit 0)\n"
          "  jb-cnn split --data DIR [--seed K] [--val-split 0.2]   (print the split)\n"
          "  jb-cnn bench [--model own|mobilenetv2] [--alpha 0.5] [--size 64] [--batch 32]\n"
          "               [--threads T] [--iters 20] [--freeze-backbone]\n"
          "Environment: JOULEBENCH_SEED (default seed; --seed wins), JOULEBENCH_THREADS\n"
          "(default thread count; --threads wins), JOULEBENCH_SOCKET (markers).\n",
          f);
}

static int bad(const char *opt, const char *val, const char *want)
{
    fprintf(stderr, "jb-cnn: %s '%s': expected %s\n", opt, val ? val : "(missing)", want);
    return -1;
}

static int parse_int(const char *opt, const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || errno || *end || end == s || v < lo || v > hi) {
        char want[64];
        snprintf(want, sizeof(want), "an integer in %d..%d", lo, hi);
        return bad(opt, s, want);
    }
    *out = (int)v;
    return 0;
}

static int parse_u64(const char *opt, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = s ? strtoull(s, &end, 10) : 0;
    if (!s || errno || *end || end == s || s[0] == '-')
        return bad(opt, s, "a non-negative integer");
    *out = v;
    return 0;
}

static int parse_float(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || errno || *end || end == s || v != v) return bad(opt, s, "a number");
    *out = v;
    return 0;
}

static int default_threads(void)
{
    const char *e = getenv("JOULEBENCH_THREADS");
    int t = 1;
    if (e && *e && parse_int("JOULEBENCH_THREADS", e, 1, 1024, &t) < 0) return -1;
    return t;
}

static int default_seed(uint64_t *seed)
{
    const char *e = getenv("JOULEBENCH_SEED");
    if (e && *e) return parse_u64("JOULEBENCH_SEED", e, seed);
    return 0;
}

#define NEXT() (i + 1 < argc ? argv[++i] : NULL)

static int cmd_synth(int argc, char **argv)
{
    const char *out = NULL;
    int classes = 5, per = 100, size = 64, task = CNN_SYNTH_FLOWERS, easy = 0;
    uint64_t seed = 42;
    if (default_seed(&seed) < 0) return 2;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int r = 0;
        if (!strcmp(a, "--out"))
            out = NEXT();
        else if (!strcmp(a, "--classes"))
            r = parse_int(a, NEXT(), 2, 15, &classes);
        else if (!strcmp(a, "--per-class"))
            r = parse_int(a, NEXT(), 1, 1000000, &per);
        else if (!strcmp(a, "--size"))
            r = parse_int(a, NEXT(), 8, 1024, &size);
        else if (!strcmp(a, "--seed"))
            r = parse_u64(a, NEXT(), &seed);
        else if (!strcmp(a, "--easy"))
            easy = 1;
        else if (!strcmp(a, "--task")) {
            const char *t = NEXT();
            if (t && !strcmp(t, "flowers"))
                task = CNN_SYNTH_FLOWERS;
            else if (t && !strcmp(t, "pretrain"))
                task = CNN_SYNTH_PRETRAIN;
            else
                r = bad(a, t, "flowers or pretrain");
        } else {
            fprintf(stderr, "jb-cnn synth: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (r < 0) return 2;
    }
    if (!out) {
        fprintf(stderr, "jb-cnn synth: --out DIR is required\n");
        return 2;
    }
    jb_err err;
    if (cnn_synth_write(out, task, classes, per, size, seed, easy, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("wrote %d images (%d classes x %d, %dx%d, task %s, seed %llu) to %s\n", classes * per,
           classes, per, size, size, task == CNN_SYNTH_FLOWERS ? "flowers" : "pretrain",
           (unsigned long long)seed, out);
    return 0;
}

static int parse_model(const char *opt, const char *v, cnn_model_kind *k)
{
    if (!v || cnn_model_parse(v, k) < 0) return bad(opt, v, "own or mobilenetv2");
    return 0;
}

/* The options of train (and idle, which takes the same ones); 0 or the exit
 * status of a usage error. */
static int parse_train_args(const char *cmd, int argc, char **argv, cnn_train_cfg *cfg_out)
{
    cnn_train_cfg cfg;
    cnn_train_defaults(&cfg);
    if (default_seed(&cfg.seed) < 0 || (cfg.threads = default_threads()) < 0) return 2;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        double d = 0;
        int r = 0;
        if (!strcmp(a, "--data"))
            cfg.data = NEXT();
        else if (!strcmp(a, "--model"))
            r = parse_model(a, NEXT(), &cfg.model);
        else if (!strcmp(a, "--alpha")) {
            r = parse_float(a, NEXT(), &d);
            cfg.alpha = (float)d;
        } else if (!strcmp(a, "--size"))
            r = parse_int(a, NEXT(), 8, 1024, &cfg.size);
        else if (!strcmp(a, "--epochs"))
            r = parse_int(a, NEXT(), 0, 100000, &cfg.epochs);
        else if (!strcmp(a, "--batch"))
            r = parse_int(a, NEXT(), 1, 4096, &cfg.batch);
        else if (!strcmp(a, "--lr")) {
            r = parse_float(a, NEXT(), &d);
            cfg.lr = (float)d;
        } else if (!strcmp(a, "--optimizer")) {
            const char *v = NEXT();
            if (v && !strcmp(v, "adam"))
                cfg.optimizer = CNN_ADAM;
            else if (v && !strcmp(v, "sgd"))
                cfg.optimizer = CNN_SGD;
            else
                r = bad(a, v, "adam or sgd");
        } else if (!strcmp(a, "--threads"))
            r = parse_int(a, NEXT(), 1, 1024, &cfg.threads);
        else if (!strcmp(a, "--seed"))
            r = parse_u64(a, NEXT(), &cfg.seed);
        else if (!strcmp(a, "--flip"))
            cfg.flip = 1;
        else if (!strcmp(a, "--cosine"))
            cfg.cosine = 1;
        else if (!strcmp(a, "--val-split"))
            r = parse_float(a, NEXT(), &cfg.val_split);
        else if (!strcmp(a, "--init-from"))
            r = (cfg.init_from = NEXT()) ? 0 : bad(a, NULL, "a checkpoint path");
        else if (!strcmp(a, "--freeze-backbone"))
            cfg.freeze_backbone = 1;
        else if (!strcmp(a, "--finetune-top"))
            r = parse_int(a, NEXT(), 0, 1000, &cfg.finetune_top);
        else if (!strcmp(a, "--save"))
            r = (cfg.save = NEXT()) ? 0 : bad(a, NULL, "a checkpoint path");
        else {
            fprintf(stderr, "jb-cnn %s: unknown option '%s'\n", cmd, a);
            usage(stderr);
            return 2;
        }
        if (r < 0) return 2;
    }
    if (!cfg.data) {
        fprintf(stderr, "jb-cnn %s: --data DIR is required\n", cmd);
        return 2;
    }
    if (cfg.freeze_backbone && !cfg.init_from)
        fprintf(stderr,
                "jb-cnn %s: note: --freeze-backbone without --init-from freezes a "
                "randomly initialised backbone\n",
                cmd);
    *cfg_out = cfg;
    return 0;
}

static int cmd_train(int argc, char **argv)
{
    cnn_train_cfg cfg;
    int rc = parse_train_args("train", argc, argv, &cfg);
    if (rc) return rc;
    cnn_train_result res;
    jb_err err;
    if (cnn_train_run(&cfg, &res, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    return 0;
}

static sigset_t stop_signals;

static void wait_for_stop_signal(void)
{
    int sig;
    sigwait(&stop_signals, &sig);
}

/* `idle`: the trainer loaded and ready but doing nothing, for the idle phase
 * of an experiment. SIGTERM and SIGINT are blocked from the start (so the
 * OpenMP threads inherit the mask and one sent during loading is not lost)
 * and taken with sigwait once ready; either one ends idle with status 0. */
static int cmd_idle(int argc, char **argv)
{
    cnn_train_cfg cfg;
    int rc = parse_train_args("idle", argc, argv, &cfg);
    if (rc) return rc;
    /* A background job of a non-interactive shell starts with SIGINT ignored,
     * and an ignored signal is discarded, not queued for sigwait. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    jb_err err;
    if (cnn_idle_run(&cfg, wait_for_stop_signal, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    return 0;
}

/* Prints "train|val <label> <class/file>" per image, like the PyTorch twin's
 * `flowers.py split`, so the two splits can be compared with diff. */
static int cmd_split(int argc, char **argv)
{
    const char *data = NULL;
    uint64_t seed = 42;
    double vs = 0.2;
    if (default_seed(&seed) < 0) return 2;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int r = 0;
        if (!strcmp(a, "--data"))
            data = NEXT();
        else if (!strcmp(a, "--seed"))
            r = parse_u64(a, NEXT(), &seed);
        else if (!strcmp(a, "--val-split"))
            r = parse_float(a, NEXT(), &vs);
        else {
            fprintf(stderr, "jb-cnn split: unknown option '%s'\n", a);
            return 2;
        }
        if (r < 0) return 2;
    }
    if (!data) {
        fprintf(stderr, "jb-cnn split: --data DIR is required\n");
        return 2;
    }
    cnn_dataset ds;
    jb_err err;
    if (cnn_dataset_load(&ds, data, 8, seed, vs, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    for (int i = 0; i < ds.n; i++)
        printf("%s %d %s\n", ds.is_val[i] ? "val" : "train", ds.label[i], ds.relpath[i]);
    cnn_dataset_free(&ds);
    return 0;
}

static int cmd_bench(int argc, char **argv)
{
    cnn_bench_cfg cfg = {CNN_MODEL_OWN, 0.5f, 64, 32, 1, 20, 5, 3, 0, 123};
    if ((cfg.threads = default_threads()) < 0) return 2;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        double d;
        int r = 0;
        if (!strcmp(a, "--model"))
            r = parse_model(a, NEXT(), &cfg.model);
        else if (!strcmp(a, "--alpha")) {
            r = parse_float(a, NEXT(), &d);
            cfg.alpha = (float)d;
        } else if (!strcmp(a, "--size"))
            r = parse_int(a, NEXT(), 8, 1024, &cfg.size);
        else if (!strcmp(a, "--batch"))
            r = parse_int(a, NEXT(), 1, 4096, &cfg.batch);
        else if (!strcmp(a, "--threads"))
            r = parse_int(a, NEXT(), 1, 1024, &cfg.threads);
        else if (!strcmp(a, "--iters"))
            r = parse_int(a, NEXT(), 1, 1000000, &cfg.iters);
        else if (!strcmp(a, "--freeze-backbone"))
            cfg.freeze_backbone = 1;
        else {
            fprintf(stderr, "jb-cnn bench: unknown option '%s'\n", a);
            return 2;
        }
        if (r < 0) return 2;
    }
    double tr, inf;
    jb_err err;
    if (cnn_bench_run(&cfg, &tr, &inf, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("bench model=%s alpha=%g size=%d batch=%d threads=%d frozen=%d: train %.1f img/s, "
           "inference %.1f img/s\n",
           cnn_model_name(cfg.model), cfg.model == CNN_MODEL_OWN ? 1.0 : cfg.alpha, cfg.size,
           cfg.batch, cfg.threads, cfg.freeze_backbone, tr, inf);
    return 0;
}

/* OpenMP threads that spin at barriers waste the cores when the machine is
 * shared (measured: MobileNetV2 at 2 threads fell from ~100 to ~15 img/s
 * under load). libgomp reads OMP_WAIT_POLICY only at start-up, so set it to
 * passive and re-execute once, unless the user chose a policy. */
static void prefer_passive_waits(char **argv)
{
    if (getenv("OMP_WAIT_POLICY")) return;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    execv("/proc/self/exe", argv); /* on failure carry on with the default policy */
}

int main(int argc, char **argv)
{
    prefer_passive_waits(argv);
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "synth")) return cmd_synth(argc - 2, argv + 2);
    if (!strcmp(argv[1], "train")) return cmd_train(argc - 2, argv + 2);
    if (!strcmp(argv[1], "idle")) return cmd_idle(argc - 2, argv + 2);
    if (!strcmp(argv[1], "split")) return cmd_split(argc - 2, argv + 2);
    if (!strcmp(argv[1], "bench")) return cmd_bench(argc - 2, argv + 2);
    fprintf(stderr, "jb-cnn: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}

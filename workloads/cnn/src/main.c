/*
 * main.c — the jb-cnn command line: `synth` writes a synthetic ImageFolder
 * data set, `train` trains / evaluates a model with joulebench markers,
 * `idle` loads data and model and waits (the idle phase of an experiment),
 * `split` prints the split, `bench` measures training and inference images/s on random data.
 * Every option is one row of options[] below, read by the parser in cli.c.
 * Exit status: 0 ok, 2 usage error, 1 any other failure (message on stderr).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "data.h"
#include "synth.h"
#include "train.h"

/* Bits of cli_opt.cmds: the subcommands that take an option. */
enum { SYNTH = 1, TRAIN = 2, IDLE = 4, SPLIT = 8, BENCH = 16 };
#define TRAINING (TRAIN | IDLE) /* idle takes the options of train */

/* Every option's value; set_defaults fills in the defaults, cli_parse what
 * the command line gives, and each subcommand reads the ones it takes. */
static struct {
    cnn_train_cfg t; /* train and idle, and what synth, split and bench share with them */
    const char *out;
    int classes, per_class, task, easy, iters;
} arg;

static const cli_opt options[] = {
    {"--out", CLI_STR, &arg.out, "folder to write, one subfolder per class", .cmds = SYNTH,
     .arg = "DIR", .required = 1},
    {"--data", CLI_STR, &arg.t.data, "ImageFolder data set", .cmds = TRAINING | SPLIT, .arg = "DIR",
     .required = 1},
    {"--classes", CLI_INT, &arg.classes, "number of classes, at most 5 for flowers", .cmds = SYNTH,
     .lo = 2, .hi = 15},
    {"--per-class", CLI_INT, &arg.per_class, "images per class", .cmds = SYNTH, .lo = 1,
     .hi = 1000000},
    {"--model", CLI_MODEL, &arg.t.model, "the network", .cmds = TRAINING | BENCH},
    {"--alpha", CLI_FLOAT, &arg.t.alpha, "MobileNetV2 width multiplier", .cmds = TRAINING | BENCH},
    {"--size", CLI_INT, &arg.t.size, "image side in pixels", .cmds = SYNTH | TRAINING | BENCH,
     .lo = 8, .hi = 1024},
    {"--epochs", CLI_INT, &arg.t.epochs, "training epochs", .cmds = TRAINING, .lo = 0,
     .hi = 100000},
    {"--batch", CLI_INT, &arg.t.batch, "batch size", .cmds = TRAINING | BENCH, .lo = 1, .hi = 4096},
    {"--lr", CLI_FLOAT, &arg.t.lr, "learning rate", .cmds = TRAINING},
    {"--optimizer", CLI_OPTIMIZER, &arg.t.optimizer, "the optimizer", .cmds = TRAINING},
    {"--threads", CLI_INT, &arg.t.threads, "OpenMP threads", .cmds = TRAINING | BENCH, .lo = 1,
     .hi = 1024, .env = "JOULEBENCH_THREADS"},
    {"--iters", CLI_INT, &arg.iters, "timed batches", .cmds = BENCH, .lo = 1, .hi = 1000000},
    {"--seed", CLI_U64, &arg.t.seed, "random seed", .cmds = SYNTH | TRAINING | SPLIT,
     .env = "JOULEBENCH_SEED"},
    {"--task", CLI_TASK, &arg.task, "flower-like images, or geometric shapes to pretrain on",
     .cmds = SYNTH},
    {"--easy", CLI_FLAG, &arg.easy, "plain background, little variation and noise (quick tests)",
     .cmds = SYNTH},
    {"--flip", CLI_FLAG, &arg.t.flip, "random horizontal flips of training images",
     .cmds = TRAINING},
    {"--val-split", CLI_DOUBLE, &arg.t.val_split, "fraction of the images held out for validation",
     .cmds = TRAINING | SPLIT},
    {"--cosine", CLI_FLAG, &arg.t.cosine,
     "lr: linear warm-up over the first 5 % of the steps, then cosine decay to 0 (default: "
     "constant)",
     .cmds = TRAINING},
    {"--init-from", CLI_STR, &arg.t.init_from, "start from this checkpoint", .cmds = TRAINING,
     .arg = "FILE"},
    {"--freeze-backbone", CLI_FLAG, &arg.t.freeze_backbone,
     "freeze the backbone, train only the head", .cmds = TRAINING | BENCH},
    {"--finetune-top", CLI_INT, &arg.t.finetune_top,
     "with --freeze-backbone: the top N backbone units stay trainable", .cmds = TRAINING, .lo = 0,
     .hi = 1000},
    {"--save", CLI_STR, &arg.t.save, "write a checkpoint at the end", .cmds = TRAINING,
     .arg = "FILE"},
    {0}, /* ends the table */
};

static void set_defaults(void)
{
    cnn_train_defaults(&arg.t);
    arg.out = NULL;
    arg.classes = 5;
    arg.per_class = 100;
    arg.task = CNN_SYNTH_FLOWERS;
    arg.easy = 0;
    arg.iters = 20;
}

static int run_synth(void)
{
    jb_err err;
    if (cnn_synth_write(arg.out, arg.task, arg.classes, arg.per_class, arg.t.size, arg.t.seed,
                        arg.easy, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("wrote %d images (%d classes x %d, %dx%d, task %s, seed %llu) to %s\n",
           arg.classes * arg.per_class, arg.classes, arg.per_class, arg.t.size, arg.t.size,
           arg.task == CNN_SYNTH_FLOWERS ? "flowers" : "pretrain", (unsigned long long)arg.t.seed,
           arg.out);
    return 0;
}

static void note_frozen(const char *cmd)
{
    if (arg.t.freeze_backbone && !arg.t.init_from)
        fprintf(stderr,
                "jb-cnn %s: note: --freeze-backbone without --init-from freezes a "
                "randomly initialised backbone\n",
                cmd);
}

static int run_train(void)
{
    note_frozen("train");
    cnn_train_result res;
    jb_err err;
    if (cnn_train_run(&arg.t, &res, &err) < 0) {
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
static int run_idle(void)
{
    note_frozen("idle");
    /* A background job of a non-interactive shell starts with SIGINT ignored,
     * and an ignored signal is discarded, not queued for sigwait. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    jb_err err;
    if (cnn_idle_run(&arg.t, wait_for_stop_signal, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    return 0;
}

/* Prints "train|val <label> <class/file>" per image, like the PyTorch twin's
 * `flowers.py split`, so the two splits can be compared with diff. */
static int run_split(void)
{
    cnn_dataset ds;
    jb_err err;
    if (cnn_dataset_load(&ds, arg.t.data, 8, arg.t.seed, arg.t.val_split, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    for (int i = 0; i < ds.n; i++)
        printf("%s %d %s\n", ds.is_val[i] ? "val" : "train", ds.label[i], ds.relpath[i]);
    cnn_dataset_free(&ds);
    return 0;
}

static int run_bench(void)
{
    const cnn_train_cfg *t = &arg.t;
    cnn_bench_cfg cfg = {t->model,  t->alpha, t->size, t->batch,           t->threads,
                         arg.iters, 5,        3,       t->freeze_backbone, 123};
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

static const struct command {
    cli_cmd cli;
    int (*run)(void);
} commands[] = {
    {{"synth", SYNTH, "Writes a synthetic ImageFolder data set."}, run_synth},
    {{"train", TRAIN, "Trains and evaluates a model, with joulebench markers."}, run_train},
    {{"idle", IDLE,
      "Loads data and model like train, sends the marker 'ready', waits for SIGTERM/SIGINT, "
      "exits 0."},
     run_idle},
    {{"split", SPLIT, "Prints the train/validation split."}, run_split},
    {{"bench", BENCH, "Measures training and inference images/s on random data."}, run_bench},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fputs("usage: jb-cnn COMMAND [options]   (jb-cnn COMMAND --help: its options, ranges and "
          "defaults)\n",
          f);
    for (size_t i = 0; i < N_COMMANDS; i++)
        cli_synopsis(options, &commands[i].cli, f);
    fputs("Environment: JOULEBENCH_SEED (default seed; --seed wins), JOULEBENCH_THREADS\n"
          "(default thread count; --threads wins), JOULEBENCH_SOCKET (markers).\n",
          f);
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
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[1], commands[i].cli.name)) continue;
        set_defaults();
        int rc = cli_parse(options, &commands[i].cli, argc - 2, argv + 2);
        return rc >= 0 ? rc : commands[i].run();
    }
    fprintf(stderr, "jb-cnn: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}

/*
 * train.h — the training / evaluation driver of jb-cnn: loads the data set,
 * builds or loads the model, trains for some epochs with markers
 * (preprocessing, epoch/train/validation, classification) and metrics, and
 * prints the per-epoch figures and the final confusion matrix.
 */
#ifndef CNN_TRAIN_H
#define CNN_TRAIN_H

#include <stdio.h>

#include "model.h"

typedef struct cnn_train_cfg {
    const char *data;
    cnn_model_kind model;
    float alpha;
    int size, epochs, batch, threads, flip;
    int cosine; /* lr schedule: warm-up then cosine decay (else constant) */
    float lr;
    cnn_opt_kind optimizer;
    uint64_t seed;
    double val_split;
    const char *init_from, *save;
    int freeze_backbone, finetune_top;
    FILE *out; /* progress output (stdout) */
} cnn_train_cfg;

/* Result of the last evaluation, for tests and callers. */
typedef struct cnn_train_result {
    double train_loss, train_acc, val_loss, val_acc, val_f1;
    int val_correct, n_val, n_train, skipped, classes;
    double train_ips, infer_ips; /* images per second */
} cnn_train_result;

void cnn_train_defaults(cnn_train_cfg *cfg);
int cnn_train_run(const cnn_train_cfg *cfg, cnn_train_result *res, jb_err *err);

/* Idle mode: load the data and build the model as train would, send the
 * event marker "ready", call wait() (which returns when the process is told
 * to stop), free everything. */
int cnn_idle_run(const cnn_train_cfg *cfg, void (*wait)(void), jb_err *err);

/* Macro F1 over a classes x classes confusion matrix (rows = truth), with
 * F1 = 0 for a class that has no true or predicted sample (sklearn's
 * zero_division=0). */
double cnn_macro_f1(const int *cm, int classes);

/* Synthetic throughput benchmark on random data (no I/O). */
typedef struct cnn_bench_cfg {
    cnn_model_kind model;
    float alpha;
    int size, batch, threads, iters, classes, warmup;
    int freeze_backbone;
    uint64_t seed;
} cnn_bench_cfg;
int cnn_bench_run(const cnn_bench_cfg *cfg, double *train_ips, double *infer_ips, jb_err *err);

#endif

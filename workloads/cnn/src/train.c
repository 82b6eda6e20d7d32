/*
 * train.c — the training loop of jb-cnn. Markers (joulebench.h) bracket the
 * actions so joulebench can attribute energy to them:
 *   preprocessing                  decode + resize + split the data set
 *   epoch e { train e, validation e }   e = 1, 2, ...
 *   classification                 inference over the held-out set at the end
 * and metrics carry the epoch index: loss, accuracy, val_loss, val_accuracy,
 * val_f1, val_correct; after classification (no index): test_accuracy,
 * test_f1, correct.
 */
#include "train.h"

#include <joulebench.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

void cnn_train_defaults(cnn_train_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->model = CNN_MODEL_OWN;
    cfg->alpha = 0.5f;
    cfg->size = 64;
    cfg->epochs = 10;
    cfg->batch = 32;
    cfg->threads = 1;
    cfg->lr = 1e-3f;
    cfg->optimizer = CNN_ADAM;
    cfg->seed = 42;
    cfg->val_split = 0.2;
    cfg->out = stdout;
}

double cnn_macro_f1(const int *cm, int classes)
{
    double sum = 0;
    for (int c = 0; c < classes; c++) {
        long tp = cm[c * classes + c], fp = 0, fn = 0;
        for (int k = 0; k < classes; k++)
            if (k != c) {
                fp += cm[k * classes + c];
                fn += cm[c * classes + k];
            }
        if (2 * tp + fp + fn > 0) sum += 2.0 * tp / (double)(2 * tp + fp + fn);
    }
    return sum / classes;
}

typedef struct eval {
    double loss, acc, f1, ips;
    int correct, n;
} eval;

static double now_s(void)
{
    return (double)jb_mono_ns() * 1e-9;
}

/* Inference over idx[0..n); fills the confusion matrix cm. */
static void evaluate(cnn_model *m, const cnn_dataset *ds, const int *idx, int n, int batch,
                     int *labels, int *pred, int *cm, eval *ev)
{
    cnn_net *net = &m->net;
    memset(cm, 0, sizeof(int) * (size_t)m->classes * m->classes);
    memset(ev, 0, sizeof(*ev));
    double t0 = now_s(), loss = 0;
    for (int s = 0; s < n; s += batch) {
        int b = n - s < batch ? n - s : batch;
        cnn_dataset_batch(ds, idx + s, NULL, b, net->act[0], labels);
        cnn_forward(net, b, 0);
        loss += cnn_softmax_ce(net->act[net->n], labels, m->classes, b, NULL, pred) * b;
        for (int i = 0; i < b; i++) {
            cm[labels[i] * m->classes + pred[i]]++;
            ev->correct += labels[i] == pred[i];
        }
    }
    double dt = now_s() - t0;
    ev->n = n;
    ev->loss = n ? loss / n : 0;
    ev->acc = n ? (double)ev->correct / n : 0;
    ev->f1 = cnn_macro_f1(cm, m->classes);
    ev->ips = dt > 0 ? n / dt : 0;
}

static void print_confusion(FILE *o, const cnn_dataset *ds, const int *cm)
{
    int k = ds->classes;
    fprintf(o, "confusion matrix (rows = true class, columns = predicted):\n%12s", "");
    for (int c = 0; c < k; c++)
        fprintf(o, " %10.10s", ds->class_names[c]);
    fprintf(o, "\n");
    for (int r = 0; r < k; r++) {
        fprintf(o, "%12.12s", ds->class_names[r]);
        for (int c = 0; c < k; c++)
            fprintf(o, " %10d", cm[r * k + c]);
        fprintf(o, "\n");
    }
}

static int setup_model(const cnn_train_cfg *cfg, cnn_model *m, int classes, jb_err *err)
{
    if (cnn_model_build(m, cfg->model, cfg->alpha, cfg->size, classes, cfg->seed, err) < 0)
        return -1;
    if (cfg->init_from && cnn_ckpt_load(m, cfg->init_from, 1, err) < 0) {
        cnn_model_free(m);
        return -1;
    }
    if (cfg->freeze_backbone) cnn_model_freeze_backbone(m, cfg->finetune_top);
    if (cnn_net_alloc(&m->net, cfg->batch, err) < 0) {
        cnn_model_free(m);
        return -1;
    }
    return 0;
}

/* --cosine: linear warm-up over the first 5 % of the steps (Adam's first
 * steps with fresh BN statistics are the least reliable), then cosine decay
 * to 0 at the last step. `done` = optimiser steps taken before this one. */
static float scheduled_lr(float base, long done, long total)
{
    long warm = total / 20 > 1 ? total / 20 : 1;
    if (done < warm) return base * (float)(done + 1) / (float)warm;
    double x = (double)(done - warm) / (double)(total - warm > 1 ? total - warm : 1);
    return (float)(base * 0.5 * (1.0 + cos(M_PI * (x < 1 ? x : 1))));
}

/* One training epoch over the shuffled training indices. */
static void train_epoch(cnn_model *m, const cnn_dataset *ds, int *tr, int ntr,
                        const cnn_train_cfg *cfg, cnn_opt *opt, uint64_t *rng, int *labels,
                        int *pred, uint8_t *flip, eval *ev)
{
    long total_steps = (long)cfg->epochs * ((ntr + cfg->batch - 1) / cfg->batch);
    cnn_net *net = &m->net;
    for (int i = ntr - 1; i > 0; i--) { /* Fisher-Yates */
        int j = (int)(cnn_rand(rng) % (uint64_t)(i + 1)), t = tr[i];
        tr[i] = tr[j];
        tr[j] = t;
    }
    double loss = 0, t0 = now_s();
    int correct = 0;
    for (int s = 0; s < ntr; s += cfg->batch) {
        int b = ntr - s < cfg->batch ? ntr - s : cfg->batch;
        for (int i = 0; i < b; i++)
            flip[i] = cfg->flip ? (uint8_t)(cnn_rand(rng) & 1) : 0;
        cnn_dataset_batch(ds, tr + s, flip, b, net->act[0], labels);
        cnn_forward(net, b, 1);
        loss +=
            cnn_softmax_ce(net->act[net->n], labels, m->classes, b, net->grad[net->n], pred) * b;
        for (int i = 0; i < b; i++)
            correct += pred[i] == labels[i];
        cnn_backward(net, b);
        if (cfg->cosine) opt->lr = scheduled_lr(cfg->lr, opt->t, total_steps);
        cnn_opt_step(net, opt);
    }
    double dt = now_s() - t0;
    ev->n = ntr;
    ev->loss = loss / ntr;
    ev->correct = correct;
    ev->acc = (double)correct / ntr;
    ev->ips = dt > 0 ? ntr / dt : 0;
}

int cnn_train_run(const cnn_train_cfg *cfg, cnn_train_result *res, jb_err *err)
{
    FILE *o = cfg->out ? cfg->out : stdout;
    if (cfg->batch < 1 || cfg->batch > 4096)
        return jb_errf(err, "jb-cnn: --batch %d out of range (1..4096)", cfg->batch);
    if (cfg->epochs < 0)
        return jb_errf(err, "jb-cnn: --epochs %d must not be negative", cfg->epochs);
    if (!(cfg->val_split >= 0 && cfg->val_split < 1))
        return jb_errf(err, "jb-cnn: --val-split %g out of range [0, 1)", cfg->val_split);
    if (!(cfg->lr > 0 && cfg->lr < 10))
        return jb_errf(err, "jb-cnn: --lr %g out of range (0, 10)", cfg->lr);
    cnn_set_threads(cfg->threads);

    cnn_dataset ds;
    jb_begin("preprocessing", JB_NO_INDEX);
    int rc = cnn_dataset_load(&ds, cfg->data, cfg->size, cfg->seed, cfg->val_split, err);
    jb_end("preprocessing", JB_NO_INDEX);
    if (rc < 0) return -1;
    fprintf(o,
            "data: %s: %d images in %d classes (%d train, %d validation, %d skipped as "
            "unreadable)\n",
            cfg->data, ds.n, ds.classes, ds.n_train, ds.n_val, ds.skipped);

    cnn_model m;
    if (setup_model(cfg, &m, ds.classes, err) < 0) {
        cnn_dataset_free(&ds);
        return -1;
    }
    fprintf(o,
            "model: %s (alpha %g, %dx%d), %zu parameters, %zu trainable; %s lr %g, batch %d, "
            "%d thread(s), seed %llu\n",
            cnn_model_name(m.kind), m.alpha, m.size, m.size, cnn_param_count(&m.net),
            cnn_trainable(&m.net), cfg->optimizer == CNN_ADAM ? "adam" : "sgd", cfg->lr, cfg->batch,
            cfg->threads, (unsigned long long)cfg->seed);

    int *tr = malloc(sizeof(int) * (size_t)ds.n), *va = malloc(sizeof(int) * (size_t)ds.n);
    int ntr = 0, nva = 0;
    for (int i = 0; i < ds.n; i++) {
        if (ds.is_val[i])
            va[nva++] = i;
        else
            tr[ntr++] = i;
    }
    int *labels = malloc(sizeof(int) * (size_t)cfg->batch);
    int *pred = malloc(sizeof(int) * (size_t)cfg->batch);
    uint8_t *flip = malloc((size_t)cfg->batch);
    int *cm = calloc((size_t)ds.classes * ds.classes, sizeof(int));
    cnn_opt opt = {cfg->optimizer, cfg->lr, 0.9f, 0.999f, 1e-8f, 0.9f, 0};
    uint64_t rng = cnn_splitmix64(cfg->seed ^ 0x5eedULL);
    eval tev = {0}, vev = {0};
    memset(res, 0, sizeof(*res));
    if (nva == 0)
        fprintf(o, "note: no validation images (--val-split %g): validation metrics skipped\n",
                cfg->val_split);

    for (int e = 1; e <= cfg->epochs; e++) {
        jb_begin("epoch", e);
        jb_begin("train", e);
        train_epoch(&m, &ds, tr, ntr, cfg, &opt, &rng, labels, pred, flip, &tev);
        jb_end("train", e);
        jb_metric("loss", e, tev.loss);
        jb_metric("accuracy", e, tev.acc);
        fprintf(o, "epoch %d/%d: loss %.4f accuracy %.4f (%.0f img/s)", e, cfg->epochs, tev.loss,
                tev.acc, tev.ips);
        if (nva) {
            jb_begin("validation", e);
            evaluate(&m, &ds, va, nva, cfg->batch, labels, pred, cm, &vev);
            jb_end("validation", e);
            jb_metric("val_loss", e, vev.loss);
            jb_metric("val_accuracy", e, vev.acc);
            jb_metric("val_f1", e, vev.f1);
            jb_metric("val_correct", e, vev.correct);
            fprintf(o, " | val_loss %.4f val_accuracy %.4f val_f1 %.4f correct %d/%d", vev.loss,
                    vev.acc, vev.f1, vev.correct, nva);
        }
        fprintf(o, "\n");
        fflush(o);
        jb_end("epoch", e);
    }
    if (nva) {
        jb_begin("classification", JB_NO_INDEX);
        evaluate(&m, &ds, va, nva, cfg->batch, labels, pred, cm, &vev);
        jb_end("classification", JB_NO_INDEX);
        jb_metric("test_accuracy", JB_NO_INDEX, vev.acc);
        jb_metric("test_f1", JB_NO_INDEX, vev.f1);
        jb_metric("correct", JB_NO_INDEX, vev.correct);
        fprintf(o, "classification: accuracy %.4f macro_f1 %.4f correct %d/%d (%.0f img/s)\n",
                vev.acc, vev.f1, vev.correct, nva, vev.ips);
        print_confusion(o, &ds, cm);
    }
    res->train_loss = tev.loss;
    res->train_acc = tev.acc;
    res->val_loss = vev.loss;
    res->val_acc = vev.acc;
    res->val_f1 = vev.f1;
    res->val_correct = vev.correct;
    res->n_val = nva;
    res->n_train = ntr;
    res->skipped = ds.skipped;
    res->classes = ds.classes;
    res->train_ips = tev.ips;
    res->infer_ips = vev.ips;

    rc = 0;
    if (cfg->save) {
        rc = cnn_ckpt_save(&m, cfg->save, err);
        if (rc == 0) fprintf(o, "saved checkpoint %s\n", cfg->save);
    }
    free(tr);
    free(va);
    free(labels);
    free(pred);
    free(flip);
    free(cm);
    cnn_model_free(&m);
    cnn_dataset_free(&ds);
    return rc;
}

/* Idle mode: everything train does before the first epoch (threads, data,
 * model, checkpoint, buffers), then the event marker "ready", then wait()
 * until the caller is told to stop. The idle phase of an experiment measures
 * the trainer holding its data and model while doing nothing. */
int cnn_idle_run(const cnn_train_cfg *cfg, void (*wait)(void), jb_err *err)
{
    FILE *o = cfg->out ? cfg->out : stdout;
    if (cfg->batch < 1 || cfg->batch > 4096)
        return jb_errf(err, "jb-cnn: --batch %d out of range (1..4096)", cfg->batch);
    if (!(cfg->val_split >= 0 && cfg->val_split < 1))
        return jb_errf(err, "jb-cnn: --val-split %g out of range [0, 1)", cfg->val_split);
    cnn_set_threads(cfg->threads);
    cnn_dataset ds;
    if (cnn_dataset_load(&ds, cfg->data, cfg->size, cfg->seed, cfg->val_split, err) < 0) return -1;
    cnn_model m;
    if (setup_model(cfg, &m, ds.classes, err) < 0) {
        cnn_dataset_free(&ds);
        return -1;
    }
    fprintf(o,
            "idle: %s holds %d images and %s (%zu parameters); ready, waiting for "
            "SIGTERM or SIGINT\n",
            cfg->data, ds.n, cnn_model_name(m.kind), cnn_param_count(&m.net));
    fflush(o);
    jb_event("ready");
    wait();
    fprintf(o, "idle: stopped\n");
    cnn_model_free(&m);
    cnn_dataset_free(&ds);
    return 0;
}

int cnn_bench_run(const cnn_bench_cfg *cfg, double *train_ips, double *infer_ips, jb_err *err)
{
    cnn_model m;
    if (cnn_model_build(&m, cfg->model, cfg->alpha, cfg->size, cfg->classes, cfg->seed, err) < 0)
        return -1;
    if (cfg->freeze_backbone) cnn_model_freeze_backbone(&m, 0);
    if (cnn_net_alloc(&m.net, cfg->batch, err) < 0) {
        cnn_model_free(&m);
        return -1;
    }
    cnn_set_threads(cfg->threads);
    cnn_net *net = &m.net;
    size_t in = (size_t)3 * cfg->size * cfg->size * cfg->batch;
    uint64_t r = cfg->seed;
    for (size_t i = 0; i < in; i++)
        net->act[0][i] = (float)cnn_rand01(&r);
    int *labels = malloc(sizeof(int) * (size_t)cfg->batch);
    for (int i = 0; i < cfg->batch; i++)
        labels[i] = i % cfg->classes;
    cnn_opt opt = {CNN_ADAM, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.9f, 0};
    double t0 = 0;
    for (int it = 0; it < cfg->warmup + cfg->iters; it++) {
        if (it == cfg->warmup) t0 = now_s();
        cnn_forward(net, cfg->batch, 1);
        cnn_softmax_ce(net->act[net->n], labels, cfg->classes, cfg->batch, net->grad[net->n], NULL);
        cnn_backward(net, cfg->batch);
        cnn_opt_step(net, &opt);
    }
    *train_ips = (double)cfg->iters * cfg->batch / (now_s() - t0);
    for (int it = 0; it < cfg->warmup + cfg->iters; it++) {
        if (it == cfg->warmup) t0 = now_s();
        cnn_forward(net, cfg->batch, 0);
    }
    *infer_ips = (double)cfg->iters * cfg->batch / (now_s() - t0);
    free(labels);
    cnn_model_free(&m);
    return 0;
}

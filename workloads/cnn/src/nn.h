/*
 * nn.h — the small float32 neural-network engine of jb-cnn: layers with forward
 * and backward passes, a sequential network (with residual blocks for
 * MobileNetV2), the softmax cross-entropy loss and the Adam / SGD optimisers.
 *
 * Layout: every activation is stored channel-major with the batch inside,
 * "CNHW" (a[c][n][y][x]). A convolution over the whole batch is then one
 * im2col + one cblas_sgemm whose result is already CNHW, a 1x1 convolution is
 * a plain sgemm, batch norm reads contiguous channels, and a dense layer is
 * W (out x in) times X (in x N), i.e. CNHW with H = W = 1. Flatten permutes
 * CNHW into (C*H*W) x N, flattening each sample in (c, y, x) order like
 * PyTorch's NCHW flatten.
 *
 * Determinism: every reduction is done by one thread in a fixed order, so the
 * same seed and thread count give the same numbers.
 */
#ifndef CNN_NN_H
#define CNN_NN_H

#include <stddef.h>
#include <stdint.h>

#include "jb.h"

typedef enum {
    CNN_CONV,
    CNN_DWCONV,
    CNN_BN,
    CNN_RELU,
    CNN_RELU6,
    CNN_MAXPOOL,
    CNN_GAP,
    CNN_DENSE,
    CNN_DROPOUT,
    CNN_FLATTEN,
    CNN_BLOCK, /* a sub-network, optionally with a residual connection */
} cnn_ltype;

/* One trainable tensor with its gradient and optimiser state. */
typedef struct cnn_param {
    float *w, *g, *m, *v;
    size_t n;
    int frozen;
} cnn_param;

struct cnn_net;

typedef struct cnn_layer {
    cnn_ltype type;
    int in_c, in_h, in_w;
    int out_c, out_h, out_w;
    int k, stride, pad; /* conv, dwconv, maxpool */
    float rate;         /* dropout */
    int has_bias;
    cnn_param W, B;         /* conv/dense weight+bias; bn gamma+beta */
    float *rmean, *rvar;    /* bn running statistics */
    float *bmean, *binvstd; /* bn batch statistics (training mode) */
    float *xhat;            /* bn normalised input, kept for backward */
    float *mask;            /* dropout mask (already scaled by 1/(1-rate)) */
    int fixed_mask;         /* tests: keep the given mask instead of drawing one */
    int32_t *argmax;        /* maxpool: index of the chosen input */
    float *col;             /* conv im2col scratch */
    struct cnn_net *sub;    /* block */
    int residual;
    int unit;         /* backbone unit number (for --finetune-top), -1 for the head */
    int infer_frozen; /* frozen: run bn/dropout in inference mode */
    int fwd_train;    /* mode of the last forward pass */
} cnn_layer;

typedef struct cnn_net {
    cnn_layer *layers;
    int n, cap;
    int max_batch;
    float **act;  /* act[i] = input of layer i; act[n] = output */
    float **grad; /* grad[i] = gradient wrt act[i] */
    uint64_t rng; /* dropout / init random state */
} cnn_net;

/* --- building ------------------------------------------------------------ */
void cnn_net_init(cnn_net *net, int c, int h, int w, uint64_t seed);
cnn_layer *cnn_add_conv(cnn_net *net, int out_c, int k, int stride, int pad, int bias);
cnn_layer *cnn_add_dwconv(cnn_net *net, int k, int stride, int pad);
cnn_layer *cnn_add_bn(cnn_net *net);
cnn_layer *cnn_add_act(cnn_net *net, cnn_ltype relu_or_relu6);
cnn_layer *cnn_add_maxpool(cnn_net *net, int k, int stride);
cnn_layer *cnn_add_gap(cnn_net *net);
cnn_layer *cnn_add_flatten(cnn_net *net);
cnn_layer *cnn_add_dense(cnn_net *net, int out);
cnn_layer *cnn_add_dropout(cnn_net *net, float rate);
/* Starts a block whose layers are added to the returned sub-network; call
 * cnn_end_block when done. Residual is applied when shapes allow. */
cnn_net *cnn_begin_block(cnn_net *net, int residual);
void cnn_end_block(cnn_net *net);

/* Allocate activations and scratch for batches up to max_batch. */
int cnn_net_alloc(cnn_net *net, int max_batch, jb_err *err);
void cnn_net_free(cnn_net *net);

/* Output shape of the whole network. */
int cnn_out_c(const cnn_net *net);
int cnn_out_size(const cnn_net *net); /* c*h*w of the output */

/* --- running ------------------------------------------------------------- */
/* Forward pass over n samples already placed in net->act[0] (CNHW).
 * train = 1: batch norm uses batch statistics, dropout is active. */
void cnn_forward(cnn_net *net, int n, int train);
/* Backward pass; net->grad[net->n] must hold dL/d(output). Parameter
 * gradients are overwritten (not accumulated). Stops early below the lowest
 * trainable layer. */
void cnn_backward(cnn_net *net, int n);

/* Single layer forward/backward (also used by the gradient tests). */
void cnn_layer_forward(cnn_layer *l, const float *in, float *out, int n, int train, uint64_t *rng);
/* need_din = 0 skips the input gradient. */
void cnn_layer_backward(cnn_layer *l, const float *in, const float *out, const float *dout,
                        float *din, int n, int need_din);

/* Softmax cross-entropy, mean over the batch. logits CN (classes x n), labels
 * per sample. Writes the gradient into dlogits (may be NULL) and the predicted
 * class into pred (may be NULL). Returns the mean loss. */
double cnn_softmax_ce(const float *logits, const int *labels, int classes, int n, float *dlogits,
                      int *pred);

/* --- parameters and optimisers ------------------------------------------ */
/* Visit every parameter tensor (weights, biases, bn gamma/beta) and, with
 * stats = 1, also bn running mean/var (as pseudo-parameters, for checkpoints). */
typedef void (*cnn_param_fn)(cnn_layer *l, cnn_param *p, float *stat, size_t nstat, void *ctx);
void cnn_visit(cnn_net *net, cnn_param_fn fn, void *ctx);

typedef enum { CNN_ADAM, CNN_SGD } cnn_opt_kind;
typedef struct cnn_opt {
    cnn_opt_kind kind;
    float lr, beta1, beta2, eps, momentum;
    long t;
} cnn_opt;
void cnn_opt_step(cnn_net *net, cnn_opt *opt);

/* Freeze every layer (and sub-layer) whose unit is < first_trainable_unit
 * and >= 0; frozen layers do not learn and run bn/dropout in inference mode. */
void cnn_freeze_units(cnn_net *net, int first_trainable_unit);
/* Count of trainable scalars. */
size_t cnn_trainable(cnn_net *net);
size_t cnn_param_count(cnn_net *net);

/* --- random numbers (splitmix64, documented in README.md) ---------------- */
uint64_t cnn_splitmix64(uint64_t x);
uint64_t cnn_rand(uint64_t *state);
double cnn_rand01(uint64_t *state);
float cnn_randn(uint64_t *state);

/* Threads for OpenBLAS and the OpenMP loops. */
void cnn_set_threads(int t);

#endif

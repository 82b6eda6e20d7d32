/*
 * nn.c — layers, the sequential network, loss and optimisers of jb-cnn (see
 * nn.h for the CNHW layout). Convolutions are im2col + cblas_sgemm over the
 * whole batch (1x1 convolutions skip im2col); depthwise convolution, batch
 * norm, pooling and the element-wise layers are plain loops parallelised
 * with OpenMP over channels, so every reduction has one fixed order.
 */
#include "nn.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f /* PyTorch convention: r = (1 - m) r + m batch */

/* ---- random numbers ------------------------------------------------------ */

uint64_t cnn_splitmix64(uint64_t x)
{
    uint64_t z = x + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t cnn_rand(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15ULL;
    uint64_t z = *state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double cnn_rand01(uint64_t *state)
{
    return (double)(cnn_rand(state) >> 11) * 0x1.0p-53;
}

float cnn_randn(uint64_t *state)
{
    double u1 = cnn_rand01(state), u2 = cnn_rand01(state);
    if (u1 < 1e-300) u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

void cnn_set_threads(int t)
{
    if (t < 1) t = 1;
    openblas_set_num_threads(1); /* see par_sgemm */
#ifdef _OPENMP
    omp_set_num_threads(t);
#endif
#if defined(__SSE__)
    /* flush denormals to zero in every thread: trained activations and
     * gradients drift into denormal range, which is 10-100x slower */
#pragma omp parallel
    _mm_setcsr(_mm_getcsr() | 0x8040);
#endif
}

/* ---- building ------------------------------------------------------------ */

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz);
    if (!p) abort(); /* out of memory: nothing sensible to do in a numeric kernel */
    return p;
}

static void param_alloc(cnn_param *p, size_t n)
{
    p->n = n;
    p->w = xcalloc(n, sizeof(float));
    p->g = xcalloc(n, sizeof(float));
    p->m = xcalloc(n, sizeof(float));
    p->v = xcalloc(n, sizeof(float));
}

static void param_free(cnn_param *p)
{
    free(p->w);
    free(p->g);
    free(p->m);
    free(p->v);
    memset(p, 0, sizeof(*p));
}

void cnn_net_init(cnn_net *net, int c, int h, int w, uint64_t seed)
{
    memset(net, 0, sizeof(*net));
    net->rng = seed;
    net->cap = 8;
    net->layers = xcalloc((size_t)net->cap, sizeof(cnn_layer));
    net->layers[0].in_c = c; /* remembered as the network input shape */
    net->layers[0].in_h = h;
    net->layers[0].in_w = w;
}

static void cur_shape(const cnn_net *net, int *c, int *h, int *w)
{
    if (net->n == 0) {
        *c = net->layers[0].in_c;
        *h = net->layers[0].in_h;
        *w = net->layers[0].in_w;
    } else {
        const cnn_layer *l = &net->layers[net->n - 1];
        *c = l->out_c;
        *h = l->out_h;
        *w = l->out_w;
    }
}

static cnn_layer *push(cnn_net *net, cnn_ltype type)
{
    int c, h, w;
    cur_shape(net, &c, &h, &w);
    if (net->n + 1 >= net->cap) {
        net->cap *= 2;
        net->layers = realloc(net->layers, (size_t)net->cap * sizeof(cnn_layer));
        if (!net->layers) abort();
    }
    cnn_layer *l = &net->layers[net->n++];
    memset(l, 0, sizeof(*l));
    l->type = type;
    l->in_c = l->out_c = c;
    l->in_h = l->out_h = h;
    l->in_w = l->out_w = w;
    l->unit = -1;
    return l;
}

static void init_normal(float *w, size_t n, float std, uint64_t *rng)
{
    for (size_t i = 0; i < n; i++)
        w[i] = std * cnn_randn(rng);
}

static void init_uniform(float *w, size_t n, float lim, uint64_t *rng)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (float)((2.0 * cnn_rand01(rng) - 1.0) * lim);
}

cnn_layer *cnn_add_conv(cnn_net *net, int out_c, int k, int stride, int pad, int bias)
{
    cnn_layer *l = push(net, CNN_CONV);
    l->k = k;
    l->stride = stride;
    l->pad = pad;
    l->out_c = out_c;
    l->out_h = (l->in_h + 2 * pad - k) / stride + 1;
    l->out_w = (l->in_w + 2 * pad - k) / stride + 1;
    l->has_bias = bias;
    size_t fan_in = (size_t)l->in_c * k * k;
    param_alloc(&l->W, (size_t)out_c * fan_in);
    init_normal(l->W.w, l->W.n, sqrtf(2.0f / (float)fan_in), &net->rng); /* He normal */
    if (bias) param_alloc(&l->B, (size_t)out_c);
    return l;
}

cnn_layer *cnn_add_dwconv(cnn_net *net, int k, int stride, int pad)
{
    cnn_layer *l = push(net, CNN_DWCONV);
    l->k = k;
    l->stride = stride;
    l->pad = pad;
    l->out_h = (l->in_h + 2 * pad - k) / stride + 1;
    l->out_w = (l->in_w + 2 * pad - k) / stride + 1;
    param_alloc(&l->W, (size_t)l->in_c * k * k);
    init_normal(l->W.w, l->W.n, sqrtf(2.0f / (float)(k * k)), &net->rng);
    return l;
}

cnn_layer *cnn_add_bn(cnn_net *net)
{
    cnn_layer *l = push(net, CNN_BN);
    size_t c = (size_t)l->in_c;
    param_alloc(&l->W, c);
    param_alloc(&l->B, c);
    l->rmean = xcalloc(c, sizeof(float));
    l->rvar = xcalloc(c, sizeof(float));
    l->bmean = xcalloc(c, sizeof(float));
    l->binvstd = xcalloc(c, sizeof(float));
    for (size_t i = 0; i < c; i++)
        l->W.w[i] = l->rvar[i] = 1.0f;
    return l;
}

cnn_layer *cnn_add_act(cnn_net *net, cnn_ltype relu_or_relu6)
{
    return push(net, relu_or_relu6);
}

cnn_layer *cnn_add_maxpool(cnn_net *net, int k, int stride)
{
    cnn_layer *l = push(net, CNN_MAXPOOL);
    l->k = k;
    l->stride = stride;
    l->out_h = (l->in_h - k) / stride + 1;
    l->out_w = (l->in_w - k) / stride + 1;
    return l;
}

cnn_layer *cnn_add_gap(cnn_net *net)
{
    cnn_layer *l = push(net, CNN_GAP);
    l->out_h = l->out_w = 1;
    return l;
}

cnn_layer *cnn_add_flatten(cnn_net *net)
{
    cnn_layer *l = push(net, CNN_FLATTEN);
    l->out_c = l->in_c * l->in_h * l->in_w;
    l->out_h = l->out_w = 1;
    return l;
}

cnn_layer *cnn_add_dense(cnn_net *net, int out)
{
    cnn_layer *l = push(net, CNN_DENSE);
    int in = l->in_c * l->in_h * l->in_w;
    l->out_c = out;
    l->out_h = l->out_w = 1;
    l->has_bias = 1;
    param_alloc(&l->W, (size_t)out * in);
    param_alloc(&l->B, (size_t)out);
    init_uniform(l->W.w, l->W.n, sqrtf(6.0f / (float)(in + out)), &net->rng); /* Glorot */
    return l;
}

cnn_layer *cnn_add_dropout(cnn_net *net, float rate)
{
    cnn_layer *l = push(net, CNN_DROPOUT);
    l->rate = rate;
    return l;
}

cnn_net *cnn_begin_block(cnn_net *net, int residual)
{
    cnn_layer *l = push(net, CNN_BLOCK);
    l->residual = residual;
    l->sub = xcalloc(1, sizeof(cnn_net));
    cnn_net_init(l->sub, l->in_c, l->in_h, l->in_w, cnn_rand(&net->rng));
    return l->sub;
}

void cnn_end_block(cnn_net *net)
{
    cnn_layer *l = &net->layers[net->n - 1];
    int c, h, w;
    cur_shape(l->sub, &c, &h, &w);
    l->out_c = c;
    l->out_h = h;
    l->out_w = w;
    if (c != l->in_c || h != l->in_h || w != l->in_w) l->residual = 0;
}

static size_t in_size(const cnn_layer *l)
{
    return (size_t)l->in_c * l->in_h * l->in_w;
}
static size_t out_size(const cnn_layer *l)
{
    return (size_t)l->out_c * l->out_h * l->out_w;
}

int cnn_out_c(const cnn_net *net)
{
    return net->layers[net->n - 1].out_c;
}
int cnn_out_size(const cnn_net *net)
{
    return (int)out_size(&net->layers[net->n - 1]);
}

static int conv_needs_col(const cnn_layer *l)
{
    return !(l->k == 1 && l->stride == 1 && l->pad == 0);
}

static void alloc_layer_scratch(cnn_layer *l, int mb)
{
    size_t osz = out_size(l) * (size_t)mb;
    switch (l->type) {
    case CNN_CONV:
        if (conv_needs_col(l))
            l->col = xcalloc((size_t)l->in_c * l->k * l->k * l->out_h * l->out_w * (size_t)mb,
                             sizeof(float));
        break;
    case CNN_BN:
        l->xhat = xcalloc(osz, sizeof(float));
        break;
    case CNN_DROPOUT:
        l->mask = xcalloc(osz, sizeof(float));
        break;
    case CNN_MAXPOOL:
        l->argmax = xcalloc(osz, sizeof(int32_t));
        break;
    default:
        break;
    }
}

/* Allocates the inner activations; act[0]/act[n] and grad[0]/grad[n] are
 * given by the caller (the parent network's buffers for a block). */
static void net_alloc(cnn_net *net, int mb, float *in, float *out, float *gin, float *gout)
{
    net->max_batch = mb;
    net->act = xcalloc((size_t)net->n + 1, sizeof(float *));
    net->grad = xcalloc((size_t)net->n + 1, sizeof(float *));
    net->act[0] = in;
    net->grad[0] = gin;
    net->act[net->n] = out;
    net->grad[net->n] = gout;
    for (int i = 1; i < net->n; i++) {
        size_t sz = in_size(&net->layers[i]) * (size_t)mb;
        net->act[i] = xcalloc(sz, sizeof(float));
        net->grad[i] = xcalloc(sz, sizeof(float));
    }
    for (int i = 0; i < net->n; i++) {
        cnn_layer *l = &net->layers[i];
        alloc_layer_scratch(l, mb);
        if (l->type == CNN_BLOCK)
            net_alloc(l->sub, mb, net->act[i], net->act[i + 1], net->grad[i], net->grad[i + 1]);
    }
}

int cnn_net_alloc(cnn_net *net, int max_batch, jb_err *err)
{
    if (net->n == 0) return jb_errf(err, "jb-cnn: empty network");
    if (max_batch < 1) return jb_errf(err, "jb-cnn: batch size must be at least 1");
    float *in = xcalloc(in_size(&net->layers[0]) * (size_t)max_batch, sizeof(float));
    size_t osz = out_size(&net->layers[net->n - 1]) * (size_t)max_batch;
    float *out = xcalloc(osz, sizeof(float));
    float *gin = xcalloc(in_size(&net->layers[0]) * (size_t)max_batch, sizeof(float));
    float *gout = xcalloc(osz, sizeof(float));
    net_alloc(net, max_batch, in, out, gin, gout);
    return 0;
}

static void net_free_inner(cnn_net *net, int top)
{
    for (int i = 0; i < net->n; i++) {
        cnn_layer *l = &net->layers[i];
        param_free(&l->W);
        param_free(&l->B);
        free(l->rmean);
        free(l->rvar);
        free(l->bmean);
        free(l->binvstd);
        free(l->xhat);
        free(l->mask);
        free(l->argmax);
        free(l->col);
        if (l->sub) {
            net_free_inner(l->sub, 0);
            free(l->sub);
        }
    }
    if (net->act) {
        for (int i = 1; i < net->n; i++) {
            free(net->act[i]);
            free(net->grad[i]);
        }
        if (top) {
            free(net->act[0]);
            free(net->act[net->n]);
            free(net->grad[0]);
            free(net->grad[net->n]);
        }
    }
    free(net->act);
    free(net->grad);
    free(net->layers);
    memset(net, 0, sizeof(*net));
}

void cnn_net_free(cnn_net *net)
{
    net_free_inner(net, 1);
}

/* ---- matrix products ------------------------------------------------------
 * OpenBLAS runs single-threaded inside each of our OpenMP threads: the output
 * C (M x N, row-major) is split into column blocks (or row blocks when N is
 * small), each computed by one thread. No extra BLAS threads compete for the
 * cores, and no reduction is split, so results do not depend on timing. */
static void par_sgemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
                      int ldb, float *C, int ldc)
{
    int T = 1;
#ifdef _OPENMP
    T = omp_get_max_threads();
#endif
    enum CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
    long work = (long)M * N * K;
    if (T <= 1 || work < 200000) {
        cblas_sgemm(CblasRowMajor, TA, TB, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
        return;
    }
    int by_cols = N >= 64 * T || N >= M;
#pragma omp parallel num_threads(T)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        if (by_cols) {
            int n0 = (int)((long)N * t / T), n1 = (int)((long)N * (t + 1) / T);
            n0 = n0 / 16 * 16, n1 = t == T - 1 ? N : n1 / 16 * 16; /* aligned blocks */
            if (n1 > n0)
                cblas_sgemm(CblasRowMajor, TA, TB, M, n1 - n0, K, 1.0f, A, lda,
                            tb ? B + (size_t)n0 * ldb : B + n0, ldb, 0.0f, C + n0, ldc);
        } else {
            int m0 = (int)((long)M * t / T), m1 = (int)((long)M * (t + 1) / T);
            if (m1 > m0)
                cblas_sgemm(CblasRowMajor, TA, TB, m1 - m0, N, K, 1.0f,
                            ta ? A + m0 : A + (size_t)m0 * lda, lda, B, ldb, 0.0f,
                            C + (size_t)m0 * ldc, ldc);
        }
    }
}

/* ---- convolution ------------------------------------------------------- */

/* col[(c*k+ky)*k+kx][n][oy][ox] = in[c][n][oy*s-p+ky][ox*s-p+kx] (0 outside) */
static void im2col(const cnn_layer *l, const float *in, float *col, int n)
{
    const int k = l->k, s = l->stride, p = l->pad, H = l->in_h, W = l->in_w;
    const int OH = l->out_h, OW = l->out_w, rows = l->in_c * k * k;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        int c = r / (k * k), ky = (r / k) % k, kx = r % k;
        for (int b = 0; b < n; b++) {
            const float *src = in + ((size_t)c * n + b) * H * W;
            float *dst = col + ((size_t)r * n + b) * OH * OW;
            for (int oy = 0; oy < OH; oy++) {
                int iy = oy * s - p + ky;
                float *d = dst + (size_t)oy * OW;
                if (iy < 0 || iy >= H) {
                    memset(d, 0, sizeof(float) * (size_t)OW);
                    continue;
                }
                const float *srow = src + (size_t)iy * W;
                if (s == 1) {
                    int lo = p - kx > 0 ? p - kx : 0, hi = W + p - kx < OW ? W + p - kx : OW;
                    for (int ox = 0; ox < lo; ox++)
                        d[ox] = 0;
                    if (hi > lo)
                        memcpy(d + lo, srow + lo - p + kx, sizeof(float) * (size_t)(hi - lo));
                    for (int ox = hi > lo ? hi : lo; ox < OW; ox++)
                        d[ox] = 0;
                } else {
                    for (int ox = 0; ox < OW; ox++) {
                        int ix = ox * s - p + kx;
                        d[ox] = (ix >= 0 && ix < W) ? srow[ix] : 0.0f;
                    }
                }
            }
        }
    }
}

/* The adjoint of im2col: din += scatter(col); parallel over input channels. */
static void col2im(const cnn_layer *l, const float *col, float *din, int n)
{
    const int k = l->k, s = l->stride, p = l->pad, H = l->in_h, W = l->in_w;
    const int OH = l->out_h, OW = l->out_w;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < l->in_c; c++) {
        memset(din + (size_t)c * n * H * W, 0, sizeof(float) * (size_t)n * H * W);
        for (int kk = 0; kk < k * k; kk++) {
            int ky = kk / k, kx = kk % k, r = c * k * k + kk;
            for (int b = 0; b < n; b++) {
                float *dst = din + ((size_t)c * n + b) * H * W;
                const float *src = col + ((size_t)r * n + b) * OH * OW;
                for (int oy = 0; oy < OH; oy++) {
                    int iy = oy * s - p + ky;
                    if (iy < 0 || iy >= H) continue;
                    float *drow = dst + (size_t)iy * W;
                    const float *srow = src + (size_t)oy * OW;
                    if (s == 1) {
                        int lo = p - kx > 0 ? p - kx : 0, hi = W + p - kx < OW ? W + p - kx : OW;
                        float *dd = drow - p + kx;
                        for (int ox = lo; ox < hi; ox++)
                            dd[ox] += srow[ox];
                        continue;
                    }
                    for (int ox = 0; ox < OW; ox++) {
                        int ix = ox * s - p + kx;
                        if (ix >= 0 && ix < W) drow[ix] += srow[ox];
                    }
                }
            }
        }
    }
}

static void add_bias(float *out, const float *b, int C, size_t per_c)
{
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        float *o = out + (size_t)c * per_c;
        for (size_t i = 0; i < per_c; i++)
            o[i] += b[c];
    }
}

static void bias_grad(const float *dout, float *db, int C, size_t per_c)
{
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const float *d = dout + (size_t)c * per_c;
        float s = 0;
        for (size_t i = 0; i < per_c; i++)
            s += d[i];
        db[c] = s;
    }
}

static void conv_forward(cnn_layer *l, const float *in, float *out, int n)
{
    int K = l->in_c * l->k * l->k, P = n * l->out_h * l->out_w;
    const float *col = in;
    if (conv_needs_col(l)) {
        im2col(l, in, l->col, n);
        col = l->col;
    }
    par_sgemm(0, 0, l->out_c, P, K, l->W.w, K, col, P, out, P);
    if (l->has_bias) add_bias(out, l->B.w, l->out_c, (size_t)P);
}

static void conv_backward(cnn_layer *l, const float *in, const float *dout, float *din, int n,
                          int need_din)
{
    int K = l->in_c * l->k * l->k, P = n * l->out_h * l->out_w;
    int col_mode = conv_needs_col(l);
    const float *col = col_mode ? l->col : in;
    if (!l->W.frozen) {
        par_sgemm(0, 1, l->out_c, K, P, dout, P, col, P, l->W.g, K);
        if (l->has_bias) bias_grad(dout, l->B.g, l->out_c, (size_t)P);
    }
    if (!need_din) return;
    float *dcol = col_mode ? l->col : din;
    par_sgemm(1, 0, K, P, l->out_c, l->W.w, K, dout, P, dcol, P);
    if (col_mode) col2im(l, dcol, din, n);
}

/* ---- depthwise convolution -------------------------------------------- */

static void dw_forward(cnn_layer *l, const float *in, float *out, int n)
{
    const int k = l->k, s = l->stride, p = l->pad, H = l->in_h, W = l->in_w;
    const int OH = l->out_h, OW = l->out_w, C = l->in_c;
#pragma omp parallel for schedule(static)
    for (int cb = 0; cb < C * n; cb++) {
        int c = cb / n;
        const float *src = in + (size_t)cb * H * W;
        float *dst = out + (size_t)cb * OH * OW;
        const float *w = l->W.w + (size_t)c * k * k;
        memset(dst, 0, sizeof(float) * (size_t)OH * OW);
        for (int oy = 0; oy < OH; oy++) {
            float *drow = dst + (size_t)oy * OW;
            for (int ky = 0; ky < k; ky++) {
                int iy = oy * s - p + ky;
                if (iy < 0 || iy >= H) continue;
                const float *srow = src + (size_t)iy * W;
                for (int kx = 0; kx < k; kx++) {
                    float wv = w[ky * k + kx];
                    /* valid ox: 0 <= ox*s - p + kx < W */
                    int lo = (p - kx + s - 1) / s;
                    if (p - kx <= 0) lo = 0;
                    int hi = (W - 1 + p - kx) / s + 1;
                    if (hi > OW) hi = OW;
                    if (s == 1) {
                        const float *sp = srow - p + kx;
                        for (int ox = lo; ox < hi; ox++)
                            drow[ox] += wv * sp[ox];
                    } else {
                        for (int ox = lo; ox < hi; ox++)
                            drow[ox] += wv * srow[ox * s - p + kx];
                    }
                }
            }
        }
    }
}

static void dw_backward(cnn_layer *l, const float *in, const float *dout, float *din, int n,
                        int need_din)
{
    const int k = l->k, s = l->stride, p = l->pad, H = l->in_h, W = l->in_w;
    const int OH = l->out_h, OW = l->out_w, C = l->in_c;
    const int need_dw = !l->W.frozen;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const float *w = l->W.w + (size_t)c * k * k;
        float gw[49] = {0}; /* k <= 7 */
        for (int b = 0; b < n; b++) {
            size_t cb = (size_t)c * n + b;
            const float *src = in + cb * H * W;
            const float *dsrc = dout + cb * OH * OW;
            float *dst = need_din ? din + cb * H * W : NULL;
            if (dst) memset(dst, 0, sizeof(float) * (size_t)H * W);
            for (int oy = 0; oy < OH; oy++) {
                const float *drow = dsrc + (size_t)oy * OW;
                for (int ky = 0; ky < k; ky++) {
                    int iy = oy * s - p + ky;
                    if (iy < 0 || iy >= H) continue;
                    const float *srow = src + (size_t)iy * W;
                    float *xrow = dst ? dst + (size_t)iy * W : NULL;
                    for (int kx = 0; kx < k; kx++) {
                        int lo = (p - kx + s - 1) / s;
                        if (p - kx <= 0) lo = 0;
                        int hi = (W - 1 + p - kx) / s + 1;
                        if (hi > OW) hi = OW;
                        float wv = w[ky * k + kx], acc = 0;
                        for (int ox = lo; ox < hi; ox++) {
                            int ix = ox * s - p + kx;
                            acc += drow[ox] * srow[ix];
                            if (xrow) xrow[ix] += wv * drow[ox];
                        }
                        gw[ky * k + kx] += acc;
                    }
                }
            }
        }
        if (need_dw) memcpy(l->W.g + (size_t)c * k * k, gw, sizeof(float) * (size_t)k * k);
    }
}

/* ---- batch norm -------------------------------------------------------- */

static void bn_forward(cnn_layer *l, const float *in, float *out, int n, int train)
{
    const size_t P = (size_t)n * l->in_h * l->in_w;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < l->in_c; c++) {
        const float *x = in + (size_t)c * P;
        float *y = out + (size_t)c * P, *xh = l->xhat + (size_t)c * P;
        float g = l->W.w[c], b = l->B.w[c], mean, invstd;
        if (train) {
            double s = 0, ss = 0;
            for (size_t i = 0; i < P; i++)
                s += x[i];
            mean = (float)(s / (double)P);
            for (size_t i = 0; i < P; i++) {
                double d = x[i] - mean;
                ss += d * d;
            }
            float var = (float)(ss / (double)P);
            invstd = 1.0f / sqrtf(var + BN_EPS);
            float unbiased = P > 1 ? (float)(ss / (double)(P - 1)) : var;
            l->rmean[c] = (1 - BN_MOMENTUM) * l->rmean[c] + BN_MOMENTUM * mean;
            l->rvar[c] = (1 - BN_MOMENTUM) * l->rvar[c] + BN_MOMENTUM * unbiased;
        } else {
            mean = l->rmean[c];
            invstd = 1.0f / sqrtf(l->rvar[c] + BN_EPS);
        }
        l->bmean[c] = mean;
        l->binvstd[c] = invstd;
        for (size_t i = 0; i < P; i++) {
            float h = (x[i] - mean) * invstd;
            xh[i] = h;
            y[i] = g * h + b;
        }
    }
}

static void bn_backward(cnn_layer *l, const float *dout, float *din, int n, int need_din)
{
    const size_t P = (size_t)n * l->in_h * l->in_w;
    const int train = l->fwd_train, need_dp = !l->W.frozen;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < l->in_c; c++) {
        const float *dy = dout + (size_t)c * P, *xh = l->xhat + (size_t)c * P;
        float sg = 0, sb = 0;
        for (size_t i = 0; i < P; i++) {
            sg += dy[i] * xh[i];
            sb += dy[i];
        }
        if (need_dp) {
            l->W.g[c] = sg;
            l->B.g[c] = sb;
        }
        if (!need_din) continue;
        float *dx = din + (size_t)c * P;
        float k = l->W.w[c] * l->binvstd[c];
        if (train) {
            float mg = sg / (float)P, mb = sb / (float)P;
            for (size_t i = 0; i < P; i++)
                dx[i] = k * (dy[i] - mb - xh[i] * mg);
        } else {
            for (size_t i = 0; i < P; i++)
                dx[i] = k * dy[i];
        }
    }
}

/* ---- the other layers ------------------------------------------------- */

static void maxpool_forward(cnn_layer *l, const float *in, float *out, int n)
{
    const int k = l->k, s = l->stride, H = l->in_h, W = l->in_w, OH = l->out_h, OW = l->out_w;
#pragma omp parallel for schedule(static)
    for (int cb = 0; cb < l->in_c * n; cb++) {
        const float *src = in + (size_t)cb * H * W;
        float *dst = out + (size_t)cb * OH * OW;
        int32_t *am = l->argmax + (size_t)cb * OH * OW;
        if (k == 2 && s == 2) { /* the common case, branch-light */
            for (int oy = 0; oy < OH; oy++) {
                const float *r0 = src + (size_t)(2 * oy) * W, *r1 = r0 + W;
                for (int ox = 0; ox < OW; ox++) {
                    int i0 = 2 * oy * W + 2 * ox, best = i0;
                    float v = r0[2 * ox];
                    if (r0[2 * ox + 1] > v) v = r0[2 * ox + 1], best = i0 + 1;
                    if (r1[2 * ox] > v) v = r1[2 * ox], best = i0 + W;
                    if (r1[2 * ox + 1] > v) v = r1[2 * ox + 1], best = i0 + W + 1;
                    dst[oy * OW + ox] = v;
                    am[oy * OW + ox] = best;
                }
            }
            continue;
        }
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                int best = (oy * s) * W + ox * s;
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        int idx = (oy * s + ky) * W + ox * s + kx;
                        if (src[idx] > src[best]) best = idx;
                    }
                dst[oy * OW + ox] = src[best];
                am[oy * OW + ox] = best;
            }
    }
}

static void maxpool_backward(cnn_layer *l, const float *dout, float *din, int n)
{
    const int H = l->in_h, W = l->in_w, OHW = l->out_h * l->out_w;
#pragma omp parallel for schedule(static)
    for (int cb = 0; cb < l->in_c * n; cb++) {
        float *dst = din + (size_t)cb * H * W;
        const float *d = dout + (size_t)cb * OHW;
        const int32_t *am = l->argmax + (size_t)cb * OHW;
        memset(dst, 0, sizeof(float) * (size_t)H * W);
        for (int i = 0; i < OHW; i++)
            dst[am[i]] += d[i];
    }
}

static void gap_forward(cnn_layer *l, const float *in, float *out, int n)
{
    const int HW = l->in_h * l->in_w;
#pragma omp parallel for schedule(static)
    for (int cb = 0; cb < l->in_c * n; cb++) {
        const float *src = in + (size_t)cb * HW;
        float s = 0;
        for (int i = 0; i < HW; i++)
            s += src[i];
        out[cb] = s / (float)HW;
    }
}

static void gap_backward(cnn_layer *l, const float *dout, float *din, int n)
{
    const int HW = l->in_h * l->in_w;
#pragma omp parallel for schedule(static)
    for (int cb = 0; cb < l->in_c * n; cb++) {
        float v = dout[cb] / (float)HW;
        for (int i = 0; i < HW; i++)
            din[(size_t)cb * HW + i] = v;
    }
}

static void flatten(const cnn_layer *l, const float *a, float *b, int n, int back)
{
    const int HW = l->in_h * l->in_w;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < l->in_c; c++)
        for (int bb = 0; bb < n; bb++)
            for (int s = 0; s < HW; s++) {
                size_t cnhw = ((size_t)c * n + bb) * HW + s, flat = ((size_t)c * HW + s) * n + bb;
                if (back)
                    b[cnhw] = a[flat];
                else
                    b[flat] = a[cnhw];
            }
}

static void dense_forward(cnn_layer *l, const float *in, float *out, int n)
{
    int ni = (int)in_size(l), no = l->out_c;
    par_sgemm(0, 0, no, n, ni, l->W.w, ni, in, n, out, n);
    add_bias(out, l->B.w, no, (size_t)n);
}

static void dense_backward(cnn_layer *l, const float *in, const float *dout, float *din, int n,
                           int need_din)
{
    int ni = (int)in_size(l), no = l->out_c;
    if (!l->W.frozen) {
        par_sgemm(0, 1, no, ni, n, dout, n, in, n, l->W.g, ni);
        bias_grad(dout, l->B.g, no, (size_t)n);
    }
    if (need_din) par_sgemm(1, 0, ni, n, no, l->W.w, ni, dout, n, din, n);
}

static void dropout_forward(cnn_layer *l, const float *in, float *out, size_t sz, int train,
                            uint64_t *rng)
{
    if (!train || l->rate <= 0) {
        memcpy(out, in, sizeof(float) * sz);
        return;
    }
    float keep = 1.0f / (1.0f - l->rate);
    if (!l->fixed_mask)
        for (size_t i = 0; i < sz; i++)
            l->mask[i] = cnn_rand01(rng) >= l->rate ? keep : 0.0f;
    for (size_t i = 0; i < sz; i++)
        out[i] = in[i] * l->mask[i];
}

static void net_forward(cnn_net *net, int n, int train);
static void net_backward(cnn_net *net, int n, int need_din0);

void cnn_layer_forward(cnn_layer *l, const float *in, float *out, int n, int train, uint64_t *rng)
{
    size_t isz = in_size(l) * (size_t)n;
    if (l->infer_frozen) train = 0;
    l->fwd_train = train;
    switch (l->type) {
    case CNN_CONV:
        conv_forward(l, in, out, n);
        break;
    case CNN_DWCONV:
        dw_forward(l, in, out, n);
        break;
    case CNN_BN:
        bn_forward(l, in, out, n, train);
        break;
    case CNN_RELU:
    case CNN_RELU6: {
        float hi = l->type == CNN_RELU6 ? 6.0f : INFINITY;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < isz; i++) {
            float v = in[i] > 0.0f ? in[i] : 0.0f;
            out[i] = v < hi ? v : hi;
        }
        break;
    }
    case CNN_MAXPOOL:
        maxpool_forward(l, in, out, n);
        break;
    case CNN_GAP:
        gap_forward(l, in, out, n);
        break;
    case CNN_FLATTEN:
        flatten(l, in, out, n, 0);
        break;
    case CNN_DENSE:
        dense_forward(l, in, out, n);
        break;
    case CNN_DROPOUT:
        dropout_forward(l, in, out, isz, train, rng);
        break;
    case CNN_BLOCK:
        net_forward(l->sub, n, train);
        if (l->residual)
            for (size_t i = 0; i < isz; i++)
                out[i] += in[i];
        break;
    }
}

void cnn_layer_backward(cnn_layer *l, const float *in, const float *out, const float *dout,
                        float *din, int n, int need_din)
{
    size_t isz = in_size(l) * (size_t)n;
    switch (l->type) {
    case CNN_CONV:
        conv_backward(l, in, dout, din, n, need_din);
        break;
    case CNN_DWCONV:
        dw_backward(l, in, dout, din, n, need_din);
        break;
    case CNN_BN:
        bn_backward(l, dout, din, n, need_din);
        break;
    case CNN_DENSE:
        dense_backward(l, in, dout, din, n, need_din);
        break;
    case CNN_BLOCK:
        net_backward(l->sub, n, need_din);
        if (need_din && l->residual)
            for (size_t i = 0; i < isz; i++)
                din[i] += dout[i];
        break;
    default:
        if (!need_din) break;
        if (l->type == CNN_RELU || l->type == CNN_RELU6) {
            float hi = l->type == CNN_RELU6 ? 6.0f : INFINITY;
#pragma omp parallel for schedule(static)
            for (size_t i = 0; i < isz; i++)
                din[i] = (in[i] > 0 && in[i] < hi) ? dout[i] : 0.0f;
        } else if (l->type == CNN_MAXPOOL)
            maxpool_backward(l, dout, din, n);
        else if (l->type == CNN_GAP)
            gap_backward(l, dout, din, n);
        else if (l->type == CNN_FLATTEN)
            flatten(l, dout, din, n, 1);
        else if (l->type == CNN_DROPOUT)
            for (size_t i = 0; i < isz; i++)
                din[i] = (l->fwd_train && l->rate > 0) ? dout[i] * l->mask[i] : dout[i];
        break;
    }
    (void)out;
}

static void net_forward(cnn_net *net, int n, int train)
{
    for (int i = 0; i < net->n; i++)
        cnn_layer_forward(&net->layers[i], net->act[i], net->act[i + 1], n, train, &net->rng);
}

void cnn_forward(cnn_net *net, int n, int train)
{
    net_forward(net, n, train);
}

static int layer_trainable(const cnn_layer *l)
{
    if (l->type == CNN_BLOCK) {
        for (int i = 0; i < l->sub->n; i++)
            if (layer_trainable(&l->sub->layers[i])) return 1;
        return 0;
    }
    return (l->W.n && !l->W.frozen) || (l->B.n && !l->B.frozen);
}

static void net_backward(cnn_net *net, int n, int need_din0)
{
    int lowest = net->n;
    for (int i = 0; i < net->n; i++)
        if (layer_trainable(&net->layers[i])) {
            lowest = i;
            break;
        }
    if (need_din0) lowest = 0;
    for (int i = net->n - 1; i >= lowest; i--) {
        int need = i > 0 || need_din0;
        cnn_layer_backward(&net->layers[i], net->act[i], net->act[i + 1], net->grad[i + 1],
                           net->grad[i], n, need);
    }
}

void cnn_backward(cnn_net *net, int n)
{
    net_backward(net, n, 0);
}

/* ---- loss -------------------------------------------------------------- */

double cnn_softmax_ce(const float *logits, const int *labels, int classes, int n, float *dlogits,
                      int *pred)
{
    double loss = 0;
    for (int b = 0; b < n; b++) {
        float mx = logits[b];
        int arg = 0;
        for (int c = 1; c < classes; c++)
            if (logits[(size_t)c * n + b] > mx) {
                mx = logits[(size_t)c * n + b];
                arg = c;
            }
        double sum = 0;
        for (int c = 0; c < classes; c++)
            sum += exp((double)(logits[(size_t)c * n + b] - mx));
        double lse = mx + log(sum);
        loss += lse - logits[(size_t)labels[b] * n + b];
        if (pred) pred[b] = arg;
        if (dlogits)
            for (int c = 0; c < classes; c++) {
                double pc = exp(logits[(size_t)c * n + b] - lse);
                dlogits[(size_t)c * n + b] = (float)((pc - (c == labels[b])) / n);
            }
    }
    return loss / n;
}

/* ---- parameters and optimisers ---------------------------------------- */

void cnn_visit(cnn_net *net, cnn_param_fn fn, void *ctx)
{
    for (int i = 0; i < net->n; i++) {
        cnn_layer *l = &net->layers[i];
        if (l->type == CNN_BLOCK) {
            cnn_visit(l->sub, fn, ctx);
            continue;
        }
        if (l->W.n) fn(l, &l->W, NULL, 0, ctx);
        if (l->B.n) fn(l, &l->B, NULL, 0, ctx);
        if (l->type == CNN_BN) {
            fn(l, NULL, l->rmean, (size_t)l->in_c, ctx);
            fn(l, NULL, l->rvar, (size_t)l->in_c, ctx);
        }
    }
}

static void opt_one(cnn_layer *l, cnn_param *p, float *stat, size_t nstat, void *ctx)
{
    cnn_opt *o = ctx;
    (void)l;
    (void)stat;
    (void)nstat;
    if (!p || p->frozen) return;
    if (o->kind == CNN_SGD) {
        for (size_t i = 0; i < p->n; i++) {
            p->m[i] = o->momentum * p->m[i] + p->g[i];
            p->w[i] -= o->lr * p->m[i];
        }
        return;
    }
    float c1 = 1.0f / (1.0f - powf(o->beta1, (float)o->t));
    float c2 = 1.0f / (1.0f - powf(o->beta2, (float)o->t));
    for (size_t i = 0; i < p->n; i++) {
        float g = p->g[i];
        p->m[i] = o->beta1 * p->m[i] + (1 - o->beta1) * g;
        p->v[i] = o->beta2 * p->v[i] + (1 - o->beta2) * g * g;
        p->w[i] -= o->lr * (p->m[i] * c1) / (sqrtf(p->v[i] * c2) + o->eps);
    }
}

void cnn_opt_step(cnn_net *net, cnn_opt *opt)
{
    opt->t++;
    cnn_visit(net, opt_one, opt);
}

static void freeze_layer(cnn_layer *l, int frozen)
{
    l->W.frozen = l->B.frozen = frozen;
    l->infer_frozen = frozen;
    if (l->type == CNN_BLOCK)
        for (int i = 0; i < l->sub->n; i++)
            freeze_layer(&l->sub->layers[i], frozen);
}

void cnn_freeze_units(cnn_net *net, int first_trainable_unit)
{
    for (int i = 0; i < net->n; i++) {
        cnn_layer *l = &net->layers[i];
        freeze_layer(l, l->unit >= 0 && l->unit < first_trainable_unit);
    }
}

static void count_one(cnn_layer *l, cnn_param *p, float *stat, size_t nstat, void *ctx)
{
    size_t *c = ctx;
    (void)l;
    (void)stat;
    (void)nstat;
    if (p && !p->frozen) *c += p->n;
}

static void count_all(cnn_layer *l, cnn_param *p, float *stat, size_t nstat, void *ctx)
{
    size_t *c = ctx;
    (void)l;
    (void)stat;
    (void)nstat;
    if (p) *c += p->n;
}

size_t cnn_trainable(cnn_net *net)
{
    size_t c = 0;
    cnn_visit(net, count_one, &c);
    return c;
}

size_t cnn_param_count(cnn_net *net)
{
    size_t c = 0;
    cnn_visit(net, count_all, &c);
    return c;
}

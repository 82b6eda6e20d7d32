/*
 * test_cnn_grad.c — finite-difference gradient checks for every jb-cnn layer
 * (conv, depthwise conv, batch norm in training and inference mode, ReLU,
 * ReLU6, max pool, global average pool, flatten, dense, dropout with a fixed
 * mask, softmax cross-entropy), a residual inverted-bottleneck block and a
 * whole small network through cnn_backward.
 *
 * Method: L = sum(r .* f(x)) for a fixed random r; the analytic gradient is
 * the layer's backward pass with dout = r; the numeric one is the central
 * difference (L(x + e) - L(x - e)) / 2e, computed in double from the float
 * outputs. Inputs are kept away from kinks (ReLU at 0, ReLU6 at 6, max-pool
 * ties) so the finite difference is valid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"

/* Step of the central difference; smaller where ReLU6 kinks sit behind a
 * batch norm (the residual block), where a large step crosses them. */
static float EPS = 1e-2f;

typedef struct gcase {
    cnn_net net;
    int n;
    float *r; /* projection of the output */
    size_t osz, isz;
} gcase;

static double loss_of(gcase *g, int train)
{
    cnn_forward(&g->net, g->n, train);
    const float *out = g->net.act[g->net.n];
    double s = 0;
    for (size_t i = 0; i < g->osz; i++)
        s += (double)g->r[i] * out[i];
    return s;
}

static void setup(gcase *g, int n, uint64_t seed)
{
    g->n = n;
    assert_int_equal(cnn_net_alloc(&g->net, n, NULL), 0);
    g->osz = (size_t)cnn_out_size(&g->net) * n;
    cnn_layer *l0 = &g->net.layers[0];
    g->isz = (size_t)l0->in_c * l0->in_h * l0->in_w * n;
    g->r = malloc(sizeof(float) * g->osz);
    uint64_t s = seed;
    for (size_t i = 0; i < g->osz; i++)
        g->r[i] = cnn_randn(&s);
    for (size_t i = 0; i < g->isz; i++)
        g->net.act[0][i] = cnn_randn(&s);
}

static void teardown_case(gcase *g)
{
    free(g->r);
    cnn_net_free(&g->net);
}

static void check_close(const char *what, size_t i, double num, double ana)
{
    double tol = 6e-3 + 2e-2 * fmax(fabs(num), fabs(ana));
    if (fabs(num - ana) > tol)
        fail_msg("%s[%zu]: numeric %.6f vs analytic %.6f", what, i, num, ana);
}

/* Check d L / d x for up to `max` input elements and d L / d p for params. */
static void run_check(gcase *g, int train)
{
    cnn_net *net = &g->net;
    loss_of(g, train);
    memcpy(net->grad[net->n], g->r, sizeof(float) * g->osz);
    /* analytic: need input gradient too */
    for (int i = net->n - 1; i >= 0; i--)
        cnn_layer_backward(&net->layers[i], net->act[i], net->act[i + 1], net->grad[i + 1],
                           net->grad[i], g->n, 1);
    float *din = malloc(sizeof(float) * g->isz);
    memcpy(din, net->grad[0], sizeof(float) * g->isz);
    size_t step = g->isz / 40 + 1;
    for (size_t i = 0; i < g->isz; i += step) {
        float x = net->act[0][i];
        net->act[0][i] = x + EPS;
        double lp = loss_of(g, train);
        net->act[0][i] = x - EPS;
        double lm = loss_of(g, train);
        net->act[0][i] = x;
        check_close("dx", i, (lp - lm) / (2 * EPS), din[i]);
    }
    free(din);
    /* parameters of every (top-level, non-block) layer */
    for (int li = 0; li < net->n; li++) {
        cnn_layer *l = &net->layers[li];
        cnn_param *ps[2] = {&l->W, &l->B};
        for (int k = 0; k < 2; k++) {
            cnn_param *p = ps[k];
            if (!p->n || p->frozen) continue;
            float *g0 = malloc(sizeof(float) * p->n);
            memcpy(g0, p->g, sizeof(float) * p->n);
            size_t pstep = p->n / 25 + 1;
            for (size_t i = 0; i < p->n; i += pstep) {
                float w = p->w[i];
                p->w[i] = w + EPS;
                double lp = loss_of(g, train);
                p->w[i] = w - EPS;
                double lm = loss_of(g, train);
                p->w[i] = w;
                check_close(k ? "dB" : "dW", i, (lp - lm) / (2 * EPS), g0[i]);
            }
            free(g0);
        }
    }
}

static void test_conv_same_bias(void **st)
{
    gcase g = {0};
    cnn_net_init(&g.net, 3, 7, 6, 1);
    cnn_add_conv(&g.net, 4, 3, 1, 1, 1);
    setup(&g, 2, 11);
    for (size_t i = 0; i < g.net.layers[0].B.n; i++)
        g.net.layers[0].B.w[i] = 0.1f * (float)i;
    run_check(&g, 1);
    teardown_case(&g);
}

static void test_conv_stride2_nobias(void **st)
{
    gcase g = {0};
    cnn_net_init(&g.net, 2, 9, 8, 2);
    cnn_add_conv(&g.net, 3, 3, 2, 1, 0);
    setup(&g, 3, 12);
    assert_int_equal(g.net.layers[0].out_h, 5);
    assert_int_equal(g.net.layers[0].out_w, 4);
    run_check(&g, 1);
    teardown_case(&g);
}

static void test_conv_1x1(void **st)
{
    gcase g = {0};
    cnn_net_init(&g.net, 5, 4, 4, 3);
    cnn_add_conv(&g.net, 6, 1, 1, 0, 0);
    setup(&g, 2, 13);
    run_check(&g, 1);
    teardown_case(&g);
}

static void test_dwconv(void **st)
{
    for (int stride = 1; stride <= 2; stride++) {
        gcase g = {0};
        cnn_net_init(&g.net, 3, 7, 8, 4);
        cnn_add_dwconv(&g.net, 3, stride, 1);
        setup(&g, 2, 14);
        run_check(&g, 1);
        teardown_case(&g);
    }
}

static void test_bn_train(void **st)
{
    gcase g = {0};
    cnn_net_init(&g.net, 3, 4, 3, 5);
    cnn_layer *l = cnn_add_bn(&g.net);
    setup(&g, 4, 15);
    for (int c = 0; c < 3; c++) {
        l->W.w[c] = 0.5f + c;
        l->B.w[c] = 0.2f * c;
    }
    run_check(&g, 1);
    /* training mode normalises: each channel of the output has mean beta */
    loss_of(&g, 1);
    size_t P = 4 * 4 * 3;
    double s = 0;
    for (size_t i = 0; i < P; i++)
        s += g.net.act[1][2 * P + i];
    assert_float_equal(s / P, l->B.w[2], 1e-4);
    teardown_case(&g);
}

static void test_bn_infer(void **st)
{
    gcase g = {0};
    cnn_net_init(&g.net, 2, 3, 3, 6);
    cnn_layer *l = cnn_add_bn(&g.net);
    setup(&g, 2, 16);
    l->rmean[0] = 0.3f, l->rvar[0] = 2.0f, l->rmean[1] = -0.1f, l->rvar[1] = 0.5f;
    l->W.w[1] = 1.5f;
    run_check(&g, 0);
    teardown_case(&g);
}

static void away_from(float *x, size_t n, float kink, float gap)
{
    for (size_t i = 0; i < n; i++)
        if (fabsf(x[i] - kink) < gap) x[i] = kink + (x[i] >= kink ? gap : -gap);
}

static void test_relu_relu6(void **st)
{
    for (int k = 0; k < 2; k++) {
        gcase g = {0};
        cnn_net_init(&g.net, 2, 3, 3, 7);
        cnn_add_act(&g.net, k ? CNN_RELU6 : CNN_RELU);
        setup(&g, 2, 17);
        for (size_t i = 0; i < g.isz; i++)
            g.net.act[0][i] *= 5.0f; /* reach beyond 6 too */
        away_from(g.net.act[0], g.isz, 0, 0.05f);
        away_from(g.net.act[0], g.isz, 6, 0.05f);
        run_check(&g, 1);
        /* and the kink really is there: gradient 0 below 0 */
        for (size_t i = 0; i < g.isz; i++)
            if (g.net.act[0][i] < 0) assert_float_equal(g.net.grad[0][i], 0, 0);
        teardown_case(&g);
    }
}

static void test_maxpool(void **st)
{
    gcase g = {0};
    cnn_net_init(&g.net, 2, 6, 5, 8);
    cnn_add_maxpool(&g.net, 2, 2);
    setup(&g, 2, 18);
    /* distinct values 0.05 apart, shuffled: no ties within 2*EPS */
    uint64_t s = 99;
    for (size_t i = 0; i < g.isz; i++)
        g.net.act[0][i] = 0.05f * (float)i;
    for (size_t i = g.isz - 1; i > 0; i--) {
        size_t j = cnn_rand(&s) % (i + 1);
        float t = g.net.act[0][i];
        g.net.act[0][i] = g.net.act[0][j];
        g.net.act[0][j] = t;
    }
    assert_int_equal(g.net.layers[0].out_h, 3);
    assert_int_equal(g.net.layers[0].out_w, 2);
    run_check(&g, 1);
    teardown_case(&g);
}

static void test_gap_flatten_dense(void **st)
{
    gcase g = {0};
    cnn_net_init(&g.net, 3, 4, 5, 9);
    cnn_add_gap(&g.net);
    cnn_add_flatten(&g.net);
    cnn_add_dense(&g.net, 4);
    setup(&g, 3, 19);
    run_check(&g, 1);
    teardown_case(&g);

    gcase h = {0};
    cnn_net_init(&h.net, 2, 3, 3, 10);
    cnn_add_flatten(&h.net);
    cnn_add_dense(&h.net, 5);
    setup(&h, 2, 20);
    run_check(&h, 1);
    teardown_case(&h);
}

static void test_dropout_fixed_mask(void **st)
{
    gcase g = {0};
    cnn_net_init(&g.net, 2, 3, 3, 11);
    cnn_layer *l = cnn_add_dropout(&g.net, 0.5f);
    setup(&g, 2, 21);
    l->fixed_mask = 1;
    uint64_t s = 5;
    int zeros = 0;
    for (size_t i = 0; i < g.isz; i++) {
        l->mask[i] = cnn_rand01(&s) < 0.5 ? 0.0f : 2.0f;
        zeros += l->mask[i] == 0;
    }
    assert_true(zeros > 0 && (size_t)zeros < g.isz);
    run_check(&g, 1);
    /* inference mode is the identity */
    cnn_forward(&g.net, g.n, 0);
    assert_memory_equal(g.net.act[0], g.net.act[1], sizeof(float) * g.isz);
    teardown_case(&g);
}

static void test_dropout_draws_mask(void **st)
{
    gcase g = {0};
    cnn_net_init(&g.net, 4, 8, 8, 12);
    cnn_add_dropout(&g.net, 0.2f);
    setup(&g, 4, 22);
    cnn_forward(&g.net, g.n, 1);
    size_t dropped = 0;
    for (size_t i = 0; i < g.isz; i++) {
        float o = g.net.act[1][i], x = g.net.act[0][i];
        assert_true(o == 0 || fabsf(o - x / 0.8f) < 1e-5f);
        dropped += o == 0;
    }
    assert_true(dropped > g.isz / 10 && dropped < g.isz * 3 / 10);
    teardown_case(&g);
}

static void test_softmax_ce(void **st)
{
    enum { C = 4, N = 3 };
    float z[C * N], dz[C * N];
    int labels[N] = {0, 3, 2}, pred[N];
    uint64_t s = 23;
    for (int i = 0; i < C * N; i++)
        z[i] = 2 * cnn_randn(&s);
    double l0 = cnn_softmax_ce(z, labels, C, N, dz, pred);
    assert_true(l0 > 0);
    for (int i = 0; i < C * N; i++) {
        float v = z[i];
        z[i] = v + 1e-3f;
        double lp = cnn_softmax_ce(z, labels, C, N, NULL, NULL);
        z[i] = v - 1e-3f;
        double lm = cnn_softmax_ce(z, labels, C, N, NULL, NULL);
        z[i] = v;
        check_close("dlogits", (size_t)i, (lp - lm) / 2e-3, dz[i]);
    }
    for (int b = 0; b < N; b++) {
        int best = 0;
        for (int c = 1; c < C; c++)
            if (z[c * N + b] > z[best * N + b]) best = c;
        assert_int_equal(pred[b], best);
    }
    /* known value: uniform logits give log(C) */
    float u[C * 1] = {0, 0, 0, 0};
    int lab = 2;
    assert_float_equal(cnn_softmax_ce(u, &lab, C, 1, NULL, NULL), log(4.0), 1e-6);
}

static void test_residual_block(void **st)
{
    gcase g = {0};
    cnn_net_init(&g.net, 4, 5, 5, 13);
    cnn_net *b = cnn_begin_block(&g.net, 1);
    cnn_add_conv(b, 8, 1, 1, 0, 0);
    cnn_add_bn(b);
    cnn_add_act(b, CNN_RELU6);
    cnn_add_dwconv(b, 3, 1, 1);
    cnn_add_bn(b);
    cnn_add_act(b, CNN_RELU6);
    cnn_add_conv(b, 4, 1, 1, 0, 0);
    cnn_add_bn(b);
    cnn_end_block(&g.net);
    assert_int_equal(g.net.layers[0].residual, 1);
    setup(&g, 3, 24);
    EPS = 1e-3f;
    run_check(&g, 1);
    /* sub-layer parameters: check the expand conv's weights numerically */
    cnn_layer *ex = &b->layers[0];
    float *g0 = malloc(sizeof(float) * ex->W.n);
    memcpy(g0, ex->W.g, sizeof(float) * ex->W.n);
    for (size_t i = 0; i < ex->W.n; i += 5) {
        float w = ex->W.w[i];
        ex->W.w[i] = w + EPS;
        double lp = loss_of(&g, 1);
        ex->W.w[i] = w - EPS;
        double lm = loss_of(&g, 1);
        ex->W.w[i] = w;
        check_close("block dW", i, (lp - lm) / (2 * EPS), g0[i]);
    }
    free(g0);
    EPS = 1e-2f;
    teardown_case(&g);
}

/* Whole network through cnn_backward: parameter gradients of the first conv. */
static void test_network_backward(void **st)
{
    cnn_net net;
    cnn_net_init(&net, 3, 8, 8, 14);
    cnn_add_conv(&net, 4, 3, 1, 1, 1);
    cnn_add_act(&net, CNN_RELU);
    cnn_add_maxpool(&net, 2, 2);
    cnn_add_flatten(&net);
    cnn_add_dense(&net, 3);
    assert_int_equal(cnn_net_alloc(&net, 2, NULL), 0);
    uint64_t s = 25;
    for (int i = 0; i < 3 * 64 * 2; i++)
        net.act[0][i] = cnn_randn(&s);
    int labels[2] = {1, 2};
    cnn_forward(&net, 2, 1);
    cnn_softmax_ce(net.act[net.n], labels, 3, 2, net.grad[net.n], NULL);
    cnn_backward(&net, 2);
    cnn_param *W = &net.layers[0].W;
    float *g0 = malloc(sizeof(float) * W->n);
    memcpy(g0, W->g, sizeof(float) * W->n);
    for (size_t i = 0; i < W->n; i += 7) {
        float w = W->w[i];
        W->w[i] = w + 1e-3f;
        cnn_forward(&net, 2, 1);
        double lp = cnn_softmax_ce(net.act[net.n], labels, 3, 2, NULL, NULL);
        W->w[i] = w - 1e-3f;
        cnn_forward(&net, 2, 1);
        double lm = cnn_softmax_ce(net.act[net.n], labels, 3, 2, NULL, NULL);
        W->w[i] = w;
        check_close("net dW", i, (lp - lm) / 2e-3, g0[i]);
    }
    free(g0);
    cnn_net_free(&net);
}

int main(void)
{
    cnn_set_threads(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_same_bias),     cmocka_unit_test(test_conv_stride2_nobias),
        cmocka_unit_test(test_conv_1x1),           cmocka_unit_test(test_dwconv),
        cmocka_unit_test(test_bn_train),           cmocka_unit_test(test_bn_infer),
        cmocka_unit_test(test_relu_relu6),         cmocka_unit_test(test_maxpool),
        cmocka_unit_test(test_gap_flatten_dense),  cmocka_unit_test(test_dropout_fixed_mask),
        cmocka_unit_test(test_dropout_draws_mask), cmocka_unit_test(test_softmax_ce),
        cmocka_unit_test(test_residual_block),     cmocka_unit_test(test_network_backward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_cnn_ckpt.c — checkpoints: save/load round trip for both models (same
 * weights, same outputs), transfer loading of the backbone with a new head,
 * and rejection of truncated, corrupted, wrong-model and garbage files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"

static char dir[256];

static int setup(void **st)
{
    snprintf(dir, sizeof(dir), "/tmp/test_cnn_ckpt.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **st)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

static void path_of(char *out, const char *name)
{
    snprintf(out, 512, "%s/%s", dir, name);
}

static void forward_some(cnn_model *m, float *out)
{
    uint64_t s = 77;
    size_t in = (size_t)3 * m->size * m->size * 2;
    for (size_t i = 0; i < in; i++)
        m->net.act[0][i] = (float)cnn_rand01(&s);
    cnn_forward(&m->net, 2, 0);
    memcpy(out, m->net.act[m->net.n], sizeof(float) * (size_t)m->classes * 2);
}

static void roundtrip(cnn_model_kind kind, int size)
{
    cnn_model a, b;
    jb_err err;
    char p[512];
    path_of(p, "rt.ckpt");
    assert_int_equal(cnn_model_build(&a, kind, 0.35f, size, 3, 1, &err), 0);
    assert_int_equal(cnn_net_alloc(&a.net, 2, &err), 0);
    /* make bn statistics non-trivial so they are saved too */
    a.net.layers[0].W.w[0] = 0.123f;
    forward_some(&a, (float[6]){0});
    cnn_forward(&a.net, 2, 1);
    assert_int_equal(cnn_ckpt_save(&a, p, &err), 0);
    assert_int_equal(cnn_model_build(&b, kind, 0.35f, size, 3, 999, &err), 0);
    assert_int_equal(cnn_net_alloc(&b.net, 2, &err), 0);
    float oa[6], ob[6];
    forward_some(&a, oa);
    forward_some(&b, ob);
    assert_memory_not_equal(oa, ob, sizeof(oa)); /* different seeds differ */
    if (cnn_ckpt_load(&b, p, 0, &err) != 0) fail_msg("%s", err.msg);
    forward_some(&b, ob);
    assert_memory_equal(oa, ob, sizeof(oa));
    cnn_model_free(&a);
    cnn_model_free(&b);
}

static void test_roundtrip_own(void **st)
{
    roundtrip(CNN_MODEL_OWN, 16);
}
static void test_roundtrip_mobilenet(void **st)
{
    roundtrip(CNN_MODEL_MOBILENETV2, 32);
}

static void test_transfer_new_head(void **st)
{
    cnn_model base, m;
    jb_err err;
    char p[512];
    path_of(p, "base.ckpt");
    assert_int_equal(cnn_model_build(&base, CNN_MODEL_MOBILENETV2, 0.35f, 32, 5, 1, &err), 0);
    assert_int_equal(cnn_ckpt_save(&base, p, &err), 0);
    /* another class count and input size: backbone loads, head stays new */
    assert_int_equal(cnn_model_build(&m, CNN_MODEL_MOBILENETV2, 0.35f, 48, 3, 2, &err), 0);
    assert_int_equal(cnn_ckpt_load(&m, p, 1, &err), 0);
    assert_memory_equal(m.net.layers[0].W.w, base.net.layers[0].W.w,
                        sizeof(float) * base.net.layers[0].W.n);
    /* ...but a full load must refuse the mismatch */
    assert_int_equal(cnn_ckpt_load(&m, p, 0, &err), -1);
    assert_non_null(strstr(err.msg, "classes"));
    size_t all = cnn_trainable(&m.net);
    cnn_model_freeze_backbone(&m, 0);
    size_t head = cnn_trainable(&m.net);
    assert_int_equal(head, (size_t)m.net.layers[m.net.n - 1].W.n + 3);
    cnn_model_freeze_backbone(&m, 2);
    size_t top2 = cnn_trainable(&m.net);
    assert_true(top2 > head && top2 < all);
    cnn_model_free(&base);
    cnn_model_free(&m);
}

static long write_file(const char *p, const unsigned char *d, size_t n)
{
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fwrite(d, 1, n, f);
    fclose(f);
    return (long)n;
}

static unsigned char *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *d = malloc(*n);
    assert_int_equal(fread(d, 1, *n, f), *n);
    fclose(f);
    return d;
}

static void test_reject_bad_files(void **st)
{
    cnn_model m, mb;
    jb_err err;
    char p[512], q[512];
    path_of(p, "own.ckpt");
    path_of(q, "bad.ckpt");
    assert_int_equal(cnn_model_build(&m, CNN_MODEL_OWN, 1, 16, 3, 1, &err), 0);
    assert_int_equal(cnn_ckpt_save(&m, p, &err), 0);
    size_t n;
    unsigned char *d = slurp(p, &n);

    /* truncated at many lengths */
    size_t cuts[] = {0, 1, 7, 8, 20, 44, n / 2, n - 9, n - 8, n - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        write_file(q, d, cuts[i]);
        assert_int_equal(cnn_ckpt_load(&m, q, 0, &err), -1);
    }
    write_file(q, d, n - 100);
    assert_int_equal(cnn_ckpt_load(&m, q, 0, &err), -1);
    assert_non_null(strstr(err.msg, "truncated"));

    /* one flipped byte in the data */
    d[n / 2] ^= 0x40;
    write_file(q, d, n);
    assert_int_equal(cnn_ckpt_load(&m, q, 0, &err), -1);
    assert_non_null(strstr(err.msg, "corrupt"));
    d[n / 2] ^= 0x40;

    /* the right file still loads */
    write_file(q, d, n);
    assert_int_equal(cnn_ckpt_load(&m, q, 0, &err), 0);

    /* wrong model */
    assert_int_equal(cnn_model_build(&mb, CNN_MODEL_MOBILENETV2, 0.35f, 32, 3, 1, &err), 0);
    assert_int_equal(cnn_ckpt_load(&mb, p, 1, &err), -1);
    assert_non_null(strstr(err.msg, "model own"));

    /* missing file */
    assert_int_equal(cnn_ckpt_load(&m, "/nonexistent/x.ckpt", 0, &err), -1);
    assert_non_null(strstr(err.msg, "cannot open"));

    /* fuzz: random garbage, and the real header with random bytes after it */
    uint64_t s = 3;
    unsigned char *g = malloc(n);
    for (int round = 0; round < 200; round++) {
        size_t len = (size_t)(cnn_rand(&s) % (n + 1));
        for (size_t i = 0; i < len; i++)
            g[i] = (unsigned char)cnn_rand(&s);
        if (round % 2) memcpy(g, d, len < 64 ? len : 64);
        write_file(q, g, len);
        assert_int_equal(cnn_ckpt_load(&m, q, round % 3 == 0, &err), -1);
    }
    free(g);
    free(d);
    cnn_model_free(&m);
    cnn_model_free(&mb);
}

/* MobileNetV2: the last BN of every residual block starts with gamma 0 (the
 * block is the identity at first), every other BN with gamma 1. */
static void test_mobilenet_zero_init_residual(void **st)
{
    cnn_model m;
    jb_err err;
    assert_int_equal(cnn_model_build(&m, CNN_MODEL_MOBILENETV2, 0.5f, 32, 5, 1, &err), 0);
    int residual = 0, plain = 0;
    for (int i = 0; i < m.net.n; i++) {
        cnn_layer *l = &m.net.layers[i];
        if (l->type != CNN_BLOCK) continue;
        cnn_net *b = l->sub;
        for (int k = 0; k < b->n; k++) {
            cnn_layer *q = &b->layers[k];
            if (q->type != CNN_BN) continue;
            float want = (l->residual && k == b->n - 1) ? 0.0f : 1.0f;
            for (size_t j = 0; j < q->W.n; j++)
                assert_true(q->W.w[j] == want);
        }
        residual += l->residual;
        plain += !l->residual;
    }
    assert_int_equal(residual, 10); /* 17 blocks, 7 change stride or width */
    assert_int_equal(plain, 7);
    cnn_model_free(&m);
}

int main(void)
{
    cnn_set_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_own),
        cmocka_unit_test(test_roundtrip_mobilenet),
        cmocka_unit_test(test_transfer_new_head),
        cmocka_unit_test(test_reject_bad_files),
        cmocka_unit_test(test_mobilenet_zero_init_residual),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

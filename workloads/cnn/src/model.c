/*
 * model.c — builds the own CNN and MobileNetV2 from nn.c layers, freezes the
 * backbone for transfer learning, and saves / loads checkpoints (format in
 * README.md: header with magic, version, model, alpha, size, classes and the
 * tensor sizes, then the float32 data, then an FNV-1a 64 checksum).
 */
#include "model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_MAGIC "JBCNNCK1"
#define CKPT_VERSION 1u
#define CKPT_MAX_TENSORS 100000u

int cnn_model_parse(const char *name, cnn_model_kind *kind)
{
    if (!strcmp(name, "own"))
        *kind = CNN_MODEL_OWN;
    else if (!strcmp(name, "mobilenetv2"))
        *kind = CNN_MODEL_MOBILENETV2;
    else
        return -1;
    return 0;
}

const char *cnn_model_name(cnn_model_kind kind)
{
    return kind == CNN_MODEL_OWN ? "own" : kind == CNN_MODEL_MOBILENETV2 ? "mobilenetv2" : "?";
}

static void mark_unit(cnn_net *net, int from, int unit)
{
    for (int i = from; i < net->n; i++)
        net->layers[i].unit = unit;
}

static void build_own(cnn_model *m)
{
    cnn_net *net = &m->net;
    static const int widths[3] = {16, 32, 64};
    for (int b = 0; b < 3; b++) {
        int from = net->n;
        cnn_add_conv(net, widths[b], 3, 1, 1, 1);
        cnn_add_act(net, CNN_RELU);
        cnn_add_maxpool(net, 2, 2);
        mark_unit(net, from, b);
    }
    m->units = 3;
    m->head_first = net->n;
    cnn_add_dropout(net, 0.2f);
    cnn_add_flatten(net);
    cnn_add_dense(net, 128);
    cnn_add_act(net, CNN_RELU);
    cnn_add_dense(net, m->classes);
}

/* Channels rounded to a multiple of 8, never more than 10 % below (as in
 * Keras and torchvision, `_make_divisible`). */
static int make_divisible(float v)
{
    int d = 8, r = (int)(v + d / 2.0f) / d * d;
    if (r < d) r = d;
    if ((float)r < 0.9f * v) r += d;
    return r;
}

static void conv_bn_relu6(cnn_net *net, int out, int k, int stride)
{
    cnn_add_conv(net, out, k, stride, k / 2, 0);
    cnn_add_bn(net);
    cnn_add_act(net, CNN_RELU6);
}

static void build_mobilenetv2(cnn_model *m)
{
    /* (expansion t, channels c, repeats n, stride s) — MobileNetV2 paper,
     * Table 2; the same in Keras and torchvision. */
    static const int cfg[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                  {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    cnn_net *net = &m->net;
    int unit = 0, in_c = make_divisible(32 * m->alpha);
    conv_bn_relu6(net, in_c, 3, 2);
    mark_unit(net, 0, unit++);
    for (int s = 0; s < 7; s++) {
        int out_c = make_divisible(cfg[s][1] * m->alpha);
        for (int r = 0; r < cfg[s][2]; r++) {
            int stride = r == 0 ? cfg[s][3] : 1, hidden = in_c * cfg[s][0], from = net->n;
            int residual = stride == 1 && in_c == out_c;
            cnn_net *b = cnn_begin_block(net, residual);
            if (cfg[s][0] != 1) conv_bn_relu6(b, hidden, 1, 1);
            cnn_add_dwconv(b, 3, stride, 1);
            cnn_add_bn(b);
            cnn_add_act(b, CNN_RELU6);
            cnn_add_conv(b, out_c, 1, 1, 0, 0);
            cnn_layer *last_bn = cnn_add_bn(b);
            /* Zero-init the last BN gamma of a residual block: the block starts
             * as the identity (Goyal et al. 2017, torchvision's
             * zero_init_residual). With gamma 1 every residual branch adds
             * unit-variance noise to the stream and this small network trained
             * from scratch barely moves off chance (docs/case-study.md). */
            if (residual)
                for (size_t i = 0; i < last_bn->W.n; i++)
                    last_bn->W.w[i] = 0.0f;
            cnn_end_block(net);
            mark_unit(net, from, unit++);
            in_c = out_c;
        }
    }
    int from = net->n;
    conv_bn_relu6(net, m->alpha > 1.0f ? make_divisible(1280 * m->alpha) : 1280, 1, 1);
    mark_unit(net, from, unit++);
    m->units = unit;
    m->head_first = net->n;
    cnn_add_gap(net);
    cnn_add_dropout(net, 0.2f);
    cnn_add_flatten(net);
    cnn_add_dense(net, m->classes);
}

int cnn_model_build(cnn_model *m, cnn_model_kind kind, float alpha, int size, int classes,
                    uint64_t seed, jb_err *err)
{
    memset(m, 0, sizeof(*m));
    if (classes < 2)
        return jb_errf(err,
                       "jb-cnn: %d class(es): classification needs at least 2 classes "
                       "(add another class folder)",
                       classes);
    if (kind == CNN_MODEL_OWN && size < 8)
        return jb_errf(err, "jb-cnn: --size %d is too small for the own CNN (use 8 or more)", size);
    if (kind == CNN_MODEL_MOBILENETV2 && size < 32)
        return jb_errf(err, "jb-cnn: --size %d is too small for MobileNetV2 (use 32 or more)",
                       size);
    if (size > 1024) return jb_errf(err, "jb-cnn: --size %d is too large (use 1024 or less)", size);
    if (!(alpha >= 0.1f && alpha <= 2.0f))
        return jb_errf(err, "jb-cnn: --alpha %g out of range (use 0.1 .. 2.0, e.g. 0.35, 0.5, 1.0)",
                       alpha);
    m->kind = kind;
    m->alpha = kind == CNN_MODEL_MOBILENETV2 ? alpha : 1.0f;
    m->size = size;
    m->classes = classes;
    cnn_net_init(&m->net, 3, size, size, seed);
    if (kind == CNN_MODEL_OWN)
        build_own(m);
    else if (kind == CNN_MODEL_MOBILENETV2)
        build_mobilenetv2(m);
    else
        return jb_errf(err, "jb-cnn: unknown model kind %d", (int)kind);
    return 0;
}

void cnn_model_free(cnn_model *m)
{
    cnn_net_free(&m->net);
}

void cnn_model_freeze_backbone(cnn_model *m, int finetune_top)
{
    if (finetune_top < 0) finetune_top = 0;
    if (finetune_top > m->units) finetune_top = m->units;
    cnn_freeze_units(&m->net, m->units - finetune_top);
}

/* ---- checkpoints -------------------------------------------------------- */

typedef struct tensor_list {
    float **ptr;
    uint64_t *count;
    int n, cap;
} tensor_list;

static void collect(cnn_layer *l, cnn_param *p, float *stat, size_t nstat, void *ctx)
{
    tensor_list *t = ctx;
    (void)l;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->ptr = realloc(t->ptr, sizeof(float *) * (size_t)t->cap);
        t->count = realloc(t->count, sizeof(uint64_t) * (size_t)t->cap);
        if (!t->ptr || !t->count) abort();
    }
    t->ptr[t->n] = p ? p->w : stat;
    t->count[t->n++] = p ? p->n : nstat;
}

/* All tensors of the model in file order; *head_from = first head tensor. */
static void model_tensors(const cnn_model *m, tensor_list *t, int *head_from)
{
    cnn_net *net = (cnn_net *)&m->net;
    memset(t, 0, sizeof(*t));
    cnn_net backbone = *net;
    backbone.n = m->head_first;
    cnn_visit(&backbone, collect, t);
    *head_from = t->n;
    cnn_net head = *net;
    head.layers = net->layers + m->head_first;
    head.n = net->n - m->head_first;
    cnn_visit(&head, collect, t);
}

static uint64_t fnv1a64(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

typedef struct wbuf {
    unsigned char *p;
    size_t len, cap;
} wbuf;

static void put(wbuf *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        while (b->len + n > b->cap)
            b->cap = b->cap ? b->cap * 2 : 4096;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_u32(wbuf *b, uint32_t v)
{
    put(b, &v, 4);
}

int cnn_ckpt_save(const cnn_model *m, const char *path, jb_err *err)
{
    tensor_list t;
    int head_from;
    model_tensors(m, &t, &head_from);
    wbuf b = {0};
    float alpha = m->alpha;
    put(&b, CKPT_MAGIC, 8);
    put_u32(&b, CKPT_VERSION);
    put_u32(&b, (uint32_t)m->kind);
    put(&b, &alpha, 4);
    put_u32(&b, (uint32_t)m->size);
    put_u32(&b, (uint32_t)m->classes);
    put_u32(&b, (uint32_t)t.n);
    put_u32(&b, (uint32_t)head_from);
    for (int i = 0; i < t.n; i++)
        put(&b, &t.count[i], 8);
    for (int i = 0; i < t.n; i++)
        put(&b, t.ptr[i], sizeof(float) * t.count[i]);
    uint64_t sum = fnv1a64(b.p, b.len);
    put(&b, &sum, 8);
    free(t.ptr);
    free(t.count);

    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int rc = 0;
    if (!f) {
        rc = jb_errf(err,
                     "%s: cannot write checkpoint: %s (check the folder exists and is writable)",
                     path, strerror(errno));
    } else {
        size_t w = fwrite(b.p, 1, b.len, f);
        if (fclose(f) != 0 || w != b.len || rename(tmp, path) != 0) {
            rc = jb_errf(err, "%s: writing checkpoint failed: %s (check free disk space)", path,
                         strerror(errno));
            remove(tmp);
        }
    }
    free(b.p);
    return rc;
}

static int read_all(const char *path, unsigned char **out, size_t *len, jb_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return jb_errf(err, "%s: cannot open checkpoint: %s (check the --init-from path)", path,
                       strerror(errno));
    size_t cap = 1 << 16, n = 0;
    unsigned char *p = malloc(cap);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            p = realloc(p, cap);
        }
        if (!p) abort();
        size_t r = fread(p + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    fclose(f);
    *out = p;
    *len = n;
    return 0;
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

int cnn_ckpt_load(cnn_model *m, const char *path, int backbone_only, jb_err *err)
{
    unsigned char *p = NULL;
    size_t len = 0;
    if (read_all(path, &p, &len, err) < 0) return -1;
    int rc = -1;
    tensor_list t = {0};
    const size_t hdr = 8 + 4 * 7;
    if (len < hdr + 8 || memcmp(p, CKPT_MAGIC, 8) != 0) {
        jb_errf(err,
                "%s: not a jb-cnn checkpoint (bad magic or only %zu bytes; save one with "
                "`jb-cnn train --save`)",
                path, len);
        goto out;
    }
    uint64_t stored;
    memcpy(&stored, p + len - 8, 8);
    uint32_t version = get_u32(p + 8), kind = get_u32(p + 12), size = get_u32(p + 20),
             classes = get_u32(p + 24), ntens = get_u32(p + 28), head_from = get_u32(p + 32);
    float alpha;
    memcpy(&alpha, p + 16, 4);
    if (version != CKPT_VERSION) {
        jb_errf(err, "%s: checkpoint version %u, this jb-cnn reads version %u (re-create it)", path,
                version, CKPT_VERSION);
        goto out;
    }
    if (fnv1a64(p, len - 8) != stored) {
        jb_errf(err, "%s: checkpoint is truncated or corrupt (checksum mismatch; re-create it)",
                path);
        goto out;
    }
    if (kind != (uint32_t)m->kind || fabsf(alpha - m->alpha) > 1e-6f) {
        jb_errf(err,
                "%s: checkpoint is for model %s (alpha %g), not %s (alpha %g); use "
                "--model %s or a matching checkpoint",
                path, cnn_model_name((cnn_model_kind)kind), alpha, cnn_model_name(m->kind),
                m->alpha, cnn_model_name((cnn_model_kind)kind));
        goto out;
    }
    if (!backbone_only && ((int)classes != m->classes || (int)size != m->size)) {
        jb_errf(err, "%s: checkpoint has %u classes at size %u, the model %d classes at size %d",
                path, classes, size, m->classes, m->size);
        goto out;
    }
    int my_head;
    model_tensors(m, &t, &my_head);
    if (ntens > CKPT_MAX_TENSORS || (uint32_t)t.n != ntens || head_from != (uint32_t)my_head ||
        hdr + 8ull * ntens + 8 > len) {
        jb_errf(err, "%s: checkpoint has %u tensors, the model %d: another architecture", path,
                ntens, t.n);
        goto out;
    }
    const unsigned char *cnt = p + hdr, *data = p + hdr + 8ull * ntens;
    uint64_t total = 0;
    for (uint32_t i = 0; i < ntens; i++) {
        uint64_t c;
        memcpy(&c, cnt + 8ull * i, 8);
        if (c > (len - 8) / 4 || (i < head_from && c != t.count[i]) ||
            (!backbone_only && c != t.count[i])) {
            jb_errf(err,
                    "%s: tensor %u has %llu values, the model expects %llu: another "
                    "architecture or size",
                    path, i, (unsigned long long)c, (unsigned long long)t.count[i]);
            goto out;
        }
        total += c;
    }
    if ((size_t)(data - p) + total * 4 + 8 != len) {
        jb_errf(err, "%s: checkpoint length %zu does not match its header (truncated?)", path, len);
        goto out;
    }
    uint32_t last = backbone_only ? head_from : ntens;
    for (uint32_t i = 0; i < last; i++) {
        memcpy(t.ptr[i], data, sizeof(float) * t.count[i]);
        data += sizeof(float) * t.count[i];
    }
    rc = 0;
out:
    free(t.ptr);
    free(t.count);
    free(p);
    return rc;
}

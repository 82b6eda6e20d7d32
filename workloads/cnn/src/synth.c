/*
 * synth.c — the deterministic synthetic image generator of jb-cnn.
 *
 * task "flowers": five flower-like classes named like tf_flowers (daisy,
 * dandelion, roses, sunflowers, tulips). Petal count, petal shape (rounded,
 * pointed, thin, layered, cup-like), petal and centre colours differ per
 * class but overlap (roses and tulips share colours, dandelions and
 * sunflowers are both yellow); every image has a random position, scale,
 * rotation, a background gradient with clutter (blobs, stems) and noise.
 * task "pretrain": five geometric classes (circle, square, triangle, star,
 * ring) with the same backgrounds, used only to pretrain the MobileNetV2 base
 * checkpoint of the honest transfer-learning scenario.
 * Every image depends only on (seed, task, class, index): 2x2 supersampled,
 * written as DIR/<class>/<class>_NNNN.png.
 */
#include "synth.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data.h"
#include "nn.h"

static const char *flower_names[5] = {"daisy", "dandelion", "roses", "sunflowers", "tulips"};
static const char *pretrain_names[15] = {
    "circle",      "square",      "triangle",      "star",      "ring",
    "circle_pale", "square_pale", "triangle_pale", "star_pale", "ring_pale",
    "circle_dark", "square_dark", "triangle_dark", "star_dark", "ring_dark"};

const char *cnn_synth_class_name(int task, int c)
{
    return (task == CNN_SYNTH_PRETRAIN ? pretrain_names : flower_names)[c];
}

typedef struct rgb {
    float r, g, b;
} rgb;

typedef struct flower {
    float cx, cy, R, rot, stretch;
    int petals, layers;
    float width;  /* petal angular width (fraction of the period) */
    float a, b;   /* profile rho(t) = (1 - |t|^a)^b */
    float ragged; /* radial noise of the petal tips */
    float centre; /* centre radius / R */
    rgb petal, petal2, core;
    int shape; /* pretrain: 0..4 */
} flower;

typedef struct blob {
    float x, y, rx, ry, rot;
    rgb col;
    int stem;
} blob;

typedef struct scene {
    rgb bg0, bg1;
    float bg_angle;
    blob blobs[10];
    int nblobs;
    flower f;
    float noise;
    int task, easy;
} scene;

static float urand(uint64_t *r, float lo, float hi)
{
    return lo + (hi - lo) * (float)cnn_rand01(r);
}

static rgb jitter(rgb c, float d, uint64_t *r)
{
    rgb o = {c.r + urand(r, -d, d), c.g + urand(r, -d, d), c.b + urand(r, -d, d)};
    return o;
}

static rgb mk(float r, float g, float b)
{
    return (rgb){r, g, b};
}

/* HSV (h in turns, s and v in 0..1) to RGB. */
static rgb hsv(float h, float s, float v)
{
    float h6 = (h - floorf(h)) * 6.0f, f = h6 - floorf(h6);
    float p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    switch ((int)h6 % 6) {
    case 0:
        return mk(v, t, p);
    case 1:
        return mk(q, v, p);
    case 2:
        return mk(p, v, t);
    case 3:
        return mk(p, q, v);
    case 4:
        return mk(t, p, v);
    default:
        return mk(v, p, q);
    }
}

/* The pretrain shape colour: half the time from the class's own hue band
 * (class c: hue c/5 +- 0.08), otherwise any colour. The label then depends on
 * shape AND colour, as ImageNet's do, so the pretrained backbone keeps
 * colour features; with colour always random it learns to ignore colour and
 * transfers badly to flowers, whose classes differ mostly in colour. */
static rgb pretrain_colour(int cls, uint64_t *r)
{
    if (cls >= 10) /* "_dark": any hue, saturated, dark */
        return hsv(urand(r, 0, 1), urand(r, 0.6f, 1), urand(r, 0.2f, 0.45f));
    if (cls >= 5) /* "_pale": any hue, nearly white */
        return hsv(urand(r, 0, 1), urand(r, 0, 0.25f), urand(r, 0.8f, 1));
    if (cnn_rand01(r) < 0.5)
        return hsv(cls / 5.0f + urand(r, -0.08f, 0.08f), urand(r, 0.5f, 1), urand(r, 0.5f, 1));
    return mk(urand(r, 0.1f, 1), urand(r, 0.1f, 1), urand(r, 0.1f, 1));
}

static void flower_params(flower *f, int cls, uint64_t *r, int easy)
{
    float d = easy ? 0.03f : 0.08f;
    switch (cls) {
    case 0: /* daisy: many thin white rounded petals, yellow centre */
        f->petals = 14 + (int)urand(r, 0, 8);
        f->width = urand(r, 0.55f, 0.75f), f->a = 2, f->b = 0.5f;
        f->centre = urand(r, 0.22f, 0.3f);
        f->petal = jitter(mk(0.95f, 0.95f, 0.92f), d, r);
        f->core = jitter(mk(0.95f, 0.8f, 0.15f), d, r);
        break;
    case 1: /* dandelion: very many ragged yellow strands */
        f->petals = 28 + (int)urand(r, 0, 14);
        f->width = urand(r, 0.5f, 0.8f), f->a = 1, f->b = 0.6f, f->ragged = 0.18f;
        f->centre = urand(r, 0.12f, 0.2f);
        f->petal = jitter(mk(0.98f, 0.85f, 0.1f), d, r);
        f->core = jitter(mk(0.9f, 0.7f, 0.05f), d, r);
        break;
    case 2: { /* roses: layered broad round petals, red/pink */
        static const rgb cols[3] = {
            {0.8f, 0.08f, 0.12f}, {0.92f, 0.45f, 0.6f}, {0.6f, 0.02f, 0.1f}};
        f->petals = 5 + (int)urand(r, 0, 3);
        f->layers = 3;
        f->width = 1.0f, f->a = 2, f->b = 0.35f;
        f->centre = urand(r, 0.12f, 0.2f);
        f->petal = jitter(cols[easy ? 0 : (int)urand(r, 0, 2.999f)], d, r);
        f->core = mk(f->petal.r * 0.55f, f->petal.g * 0.5f, f->petal.b * 0.5f);
        break;
    }
    case 3: /* sunflowers: pointed golden petals, big brown centre */
        f->petals = 16 + (int)urand(r, 0, 10);
        f->width = urand(r, 0.7f, 0.95f), f->a = 1, f->b = 1.2f;
        f->centre = urand(r, 0.38f, 0.5f);
        f->petal = jitter(mk(0.97f, 0.72f, 0.05f), d, r);
        f->core = jitter(mk(0.35f, 0.2f, 0.08f), d, r);
        break;
    default: { /* tulips: 3-4 broad cup petals, stretched, many colours */
        static const rgb cols[5] = {{0.85f, 0.1f, 0.15f},
                                    {0.93f, 0.5f, 0.65f},
                                    {0.55f, 0.2f, 0.6f},
                                    {0.98f, 0.55f, 0.1f},
                                    {0.95f, 0.85f, 0.2f}};
        f->petals = 3 + (int)urand(r, 0, 2);
        f->width = 1.0f, f->a = 4, f->b = 0.25f;
        f->stretch = urand(r, 1.3f, 1.7f);
        f->centre = 0.08f;
        f->petal = jitter(cols[easy ? 2 : (int)urand(r, 0, 4.999f)], d, r);
        f->core = mk(0.2f, 0.35f, 0.1f);
        break;
    }
    }
    f->petal2 = mk(f->petal.r * 0.8f, f->petal.g * 0.8f, f->petal.b * 0.8f);
}

static void make_scene(scene *s, int task, int cls, int size, uint64_t *r, int easy)
{
    memset(s, 0, sizeof(*s));
    s->task = task;
    s->easy = easy;
    s->bg0 = mk(urand(r, 0.1f, 0.4f), urand(r, 0.3f, 0.6f), urand(r, 0.1f, 0.4f));
    s->bg1 = mk(urand(r, 0.2f, 0.7f), urand(r, 0.3f, 0.7f), urand(r, 0.2f, 0.8f));
    if (easy) s->bg1 = s->bg0;
    s->bg_angle = urand(r, 0, 6.2832f);
    s->nblobs = easy ? 0 : 3 + (int)urand(r, 0, 6);
    for (int i = 0; i < s->nblobs; i++) {
        blob *b = &s->blobs[i];
        b->stem = cnn_rand01(r) < 0.4;
        b->x = urand(r, 0, size), b->y = urand(r, 0, size);
        b->rx = b->stem ? urand(r, 0.015f, 0.03f) * size : urand(r, 0.04f, 0.15f) * size;
        b->ry = b->stem ? urand(r, 0.2f, 0.5f) * size : urand(r, 0.04f, 0.12f) * size;
        b->rot = urand(r, 0, 3.1416f);
        b->col = b->stem ? mk(urand(r, 0.1f, 0.3f), urand(r, 0.4f, 0.6f), urand(r, 0.1f, 0.25f))
                         : mk(urand(r, 0.2f, 0.9f), urand(r, 0.2f, 0.9f), urand(r, 0.2f, 0.9f));
    }
    flower *f = &s->f;
    f->R = urand(r, easy ? 0.32f : 0.2f, easy ? 0.4f : 0.42f) * size;
    f->cx = urand(r, 0.5f * size - (size * 0.5f - f->R) * 0.8f,
                  0.5f * size + (size * 0.5f - f->R) * 0.8f);
    f->cy = urand(r, 0.5f * size - (size * 0.5f - f->R) * 0.8f,
                  0.5f * size + (size * 0.5f - f->R) * 0.8f);
    f->rot = urand(r, 0, 6.2832f);
    f->stretch = 1.0f;
    f->layers = 1;
    if (task == CNN_SYNTH_FLOWERS) {
        flower_params(f, cls, r, easy);
    } else {
        f->shape = cls % 5;
        f->petal = pretrain_colour(cls, r);
        f->core = mk(urand(r, 0.1f, 1), urand(r, 0.1f, 1), urand(r, 0.1f, 1));
        f->petals = 5;
    }
    s->noise = easy ? 0.02f : urand(r, 0.03f, 0.08f);
}

/* Does flower-local point (x, y) fall on a petal? Returns shade 0..1 or -1. */
static float petal_hit(const flower *f, float x, float y, int layer)
{
    float R = f->R * (1.0f - 0.28f * layer);
    float rr = sqrtf(x * x + y * y);
    if (rr > R) return -1;
    float period = 6.2831853f / f->petals;
    float th = atan2f(y, x) + layer * period * 0.5f;
    float ph = fmodf(th + 100.0f * period, period) / period; /* 0..1 */
    float t = (ph - 0.5f) * 2.0f / f->width;                 /* -1..1 inside a petal */
    if (fabsf(t) >= 1) return -1;
    float rho = powf(1.0f - powf(fabsf(t), f->a), f->b);
    if (f->ragged > 0) {
        int k = (int)(ph * 7.0f);
        rho *= 1.0f - f->ragged * (float)((k * 2654435761u >> 7) % 100) / 100.0f;
    }
    if (rr > R * rho) return -1;
    return 0.7f + 0.3f * (1.0f - rr / (R * rho + 1e-6f));
}

static int shape_hit(const flower *f, float x, float y)
{
    float R = f->R, ax = fabsf(x), ay = fabsf(y), rr = sqrtf(x * x + y * y);
    switch (f->shape) {
    case 0:
        return rr < R;
    case 1:
        return ax < 0.8f * R && ay < 0.8f * R;
    case 2: /* triangle pointing up */
        return y > -0.5f * R && y < R && ax < (R - y) * 0.6f;
    case 3: { /* star */
        float th = atan2f(y, x), per = 6.2831853f / 5;
        float ph = fabsf(fmodf(th + 10 * per, per) / per - 0.5f) * 2;
        return rr < R * (0.45f + 0.55f * (1 - ph));
    }
    default:
        return rr < R && rr > 0.6f * R;
    }
}

static rgb shade_point(const scene *s, float px, float py)
{
    const flower *f = &s->f;
    float ca = cosf(s->bg_angle), sa = sinf(s->bg_angle);
    float g = 0.5f + 0.5f * tanhf((px * ca + py * sa) / 40.0f - 0.5f);
    rgb c = {s->bg0.r + (s->bg1.r - s->bg0.r) * g, s->bg0.g + (s->bg1.g - s->bg0.g) * g,
             s->bg0.b + (s->bg1.b - s->bg0.b) * g};
    for (int i = 0; i < s->nblobs; i++) {
        const blob *b = &s->blobs[i];
        float dx = px - b->x, dy = py - b->y, cr = cosf(b->rot), sr = sinf(b->rot);
        float u = (dx * cr + dy * sr) / b->rx, v = (-dx * sr + dy * cr) / b->ry;
        if (u * u + v * v < 1) c = b->col;
    }
    float dx = px - f->cx, dy = py - f->cy, cr = cosf(f->rot), sr = sinf(f->rot);
    float x = dx * cr + dy * sr, y = (-dx * sr + dy * cr) / f->stretch;
    if (s->task == CNN_SYNTH_PRETRAIN) {
        if (shape_hit(f, x, y)) c = f->petal;
        return c;
    }
    for (int layer = 0; layer < f->layers; layer++) {
        float sh = petal_hit(f, x, y, layer);
        if (sh >= 0) {
            rgb p = layer % 2 ? f->petal2 : f->petal;
            c = mk(p.r * sh, p.g * sh, p.b * sh);
        }
    }
    float rr = sqrtf(x * x + y * y * f->stretch * f->stretch);
    if (rr < f->centre * f->R) {
        float speck = ((int)(px * 0.7f) * 7 + (int)(py * 0.7f) * 13) % 5 * 0.04f;
        c = mk(f->core.r - speck, f->core.g - speck, f->core.b - speck);
    }
    return c;
}

static uint8_t to_u8(float v)
{
    v = v * 255.0f + 0.5f;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

void cnn_synth_render(int task, int cls, int index, int size, uint64_t seed, int easy,
                      uint8_t *rgb_out)
{
    uint64_t r = cnn_splitmix64(
        seed ^ cnn_splitmix64(((uint64_t)task << 40) ^ ((uint64_t)cls << 32) ^ (uint64_t)index));
    scene s;
    make_scene(&s, task, cls, size, &r, easy);
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            rgb acc = {0, 0, 0};
            for (int sy = 0; sy < 2; sy++)
                for (int sx = 0; sx < 2; sx++) {
                    rgb c = shade_point(&s, x + 0.25f + 0.5f * sx, y + 0.25f + 0.5f * sy);
                    acc.r += c.r, acc.g += c.g, acc.b += c.b;
                }
            uint8_t *o = rgb_out + ((size_t)y * size + x) * 3;
            o[0] = to_u8(acc.r / 4 + s.noise * cnn_randn(&r));
            o[1] = to_u8(acc.g / 4 + s.noise * cnn_randn(&r));
            o[2] = to_u8(acc.b / 4 + s.noise * cnn_randn(&r));
        }
}

static int mkdir_p(const char *path, jb_err *err)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return jb_errf(err, "%s: cannot create folder: %s", tmp, strerror(errno));
            *p = '/';
        }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
        return jb_errf(err, "%s: cannot create folder: %s (check --out)", tmp, strerror(errno));
    return 0;
}

int cnn_synth_write(const char *out, int task, int classes, int per_class, int size, uint64_t seed,
                    int easy, jb_err *err)
{
    int max_classes = task == CNN_SYNTH_PRETRAIN ? 15 : 5;
    if (classes < 2 || classes > max_classes)
        return jb_errf(err, "jb-cnn synth: --classes %d out of range (2..%d for task %s)", classes,
                       max_classes, task == CNN_SYNTH_PRETRAIN ? "pretrain" : "flowers");
    if (per_class < 1 || per_class > 1000000)
        return jb_errf(err, "jb-cnn synth: --per-class %d out of range (1..1000000)", per_class);
    if (size < 8 || size > 1024)
        return jb_errf(err, "jb-cnn synth: --size %d out of range (8..1024)", size);
    char dir[4096];
    for (int c = 0; c < classes; c++) {
        snprintf(dir, sizeof(dir), "%s/%s", out, cnn_synth_class_name(task, c));
        if (mkdir_p(dir, err) < 0) return -1;
    }
    int failed = 0;
    jb_err first = {{0}};
#pragma omp parallel for schedule(dynamic, 4)
    for (int i = 0; i < classes * per_class; i++) {
        int c = i / per_class, k = i % per_class;
        uint8_t *img = malloc((size_t)size * size * 3);
        char path[4200];
        jb_err e;
        snprintf(path, sizeof(path), "%s/%s/%s_%04d.png", out, cnn_synth_class_name(task, c),
                 cnn_synth_class_name(task, c), k);
        cnn_synth_render(task, c, k, size, seed, easy, img);
        if (cnn_image_save_png(path, img, size, size, &e) < 0) {
#pragma omp critical
            {
                if (!failed++) first = e;
            }
        }
        free(img);
    }
    if (failed) {
        if (err) *err = first;
        return -1;
    }
    return 0;
}

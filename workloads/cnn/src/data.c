/*
 * data.c — image decoding (libpng simplified API, libjpeg with a longjmp
 * error handler so a corrupt file never aborts the process), bilinear
 * resizing, the ImageFolder scan and the seeded split described in README.md.
 */
#include "data.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>

#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nn.h"

#define MAX_PIXELS (64u * 1024u * 1024u) /* refuse decompression bombs */

/* ---- decoding ----------------------------------------------------------- */

static int load_png(const char *path, uint8_t **rgb, int *w, int *h, jb_err *err)
{
    png_image img;
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path))
        return jb_errf(err, "%s: unreadable PNG: %s", path, img.message);
    if ((uint64_t)img.width * img.height > MAX_PIXELS || img.width == 0 || img.height == 0) {
        png_image_free(&img);
        return jb_errf(err, "%s: PNG of %ux%u pixels is out of range", path, img.width, img.height);
    }
    img.format = PNG_FORMAT_RGB;
    uint8_t *buf = malloc(PNG_IMAGE_SIZE(img));
    if (!buf) {
        png_image_free(&img);
        return jb_errf(err, "%s: out of memory", path);
    }
    if (!png_image_finish_read(&img, NULL, buf, 0, NULL)) {
        free(buf);
        int rc = jb_errf(err, "%s: corrupt PNG: %s", path, img.message);
        png_image_free(&img);
        return rc;
    }
    *rgb = buf;
    *w = (int)img.width;
    *h = (int)img.height;
    return 0;
}

typedef struct jpeg_err {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_fail(j_common_ptr cinfo)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jump, 1);
}

static void jpeg_quiet(j_common_ptr cinfo, int level)
{
    (void)cinfo, (void)level;
}

static int load_jpeg(const char *path, uint8_t **rgb, int *w, int *h, jb_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return jb_errf(err, "%s: %s", path, strerror(errno));
    struct jpeg_decompress_struct cinfo;
    jpeg_err je;
    uint8_t *volatile buf = NULL;
    cinfo.err = jpeg_std_error(&je.mgr);
    je.mgr.error_exit = jpeg_fail;
    je.mgr.emit_message = jpeg_quiet;
    if (setjmp(je.jump)) {
        jpeg_destroy_decompress(&cinfo);
        fclose(f);
        free(buf);
        return jb_errf(err, "%s: corrupt JPEG: %s", path, je.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, f);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    if ((uint64_t)cinfo.output_width * cinfo.output_height > MAX_PIXELS ||
        cinfo.output_components != 3) {
        snprintf(je.msg, sizeof(je.msg), "%ux%u pixels, %d components out of range",
                 cinfo.output_width, cinfo.output_height, cinfo.output_components);
        longjmp(je.jump, 1);
    }
    size_t stride = (size_t)cinfo.output_width * 3;
    buf = malloc(stride * cinfo.output_height);
    if (!buf) {
        snprintf(je.msg, sizeof(je.msg), "out of memory");
        longjmp(je.jump, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = buf + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    *w = (int)cinfo.output_width;
    *h = (int)cinfo.output_height;
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    fclose(f);
    *rgb = buf;
    return 0;
}

static const char *ext_of(const char *path)
{
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    return (dot && (!slash || dot > slash)) ? dot + 1 : "";
}

static int is_image_name(const char *name)
{
    const char *e = ext_of(name);
    return !strcasecmp(e, "png") || !strcasecmp(e, "jpg") || !strcasecmp(e, "jpeg");
}

int cnn_image_load(const char *path, uint8_t **rgb, int *w, int *h, jb_err *err)
{
    unsigned char sig[8] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return jb_errf(err, "%s: cannot open: %s", path, strerror(errno));
    size_t n = fread(sig, 1, sizeof(sig), f);
    fclose(f);
    if (n >= 8 && !png_sig_cmp(sig, 0, 8)) return load_png(path, rgb, w, h, err);
    if (n >= 3 && sig[0] == 0xFF && sig[1] == 0xD8 && sig[2] == 0xFF)
        return load_jpeg(path, rgb, w, h, err);
    return jb_errf(err, "%s: neither a PNG nor a JPEG file (%zu bytes read)", path, n);
}

int cnn_image_save_png(const char *path, const uint8_t *rgb, int w, int h, jb_err *err)
{
    png_image img;
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w;
    img.height = (png_uint_32)h;
    img.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&img, path, 0, rgb, 0, NULL))
        return jb_errf(err, "%s: cannot write PNG: %s (check the folder is writable)", path,
                       img.message);
    return 0;
}

void cnn_resize_bilinear(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh)
{
    float sx = (float)sw / (float)dw, sy = (float)sh / (float)dh;
    for (int y = 0; y < dh; y++) {
        float fy = (y + 0.5f) * sy - 0.5f;
        if (fy < 0) fy = 0;
        int y0 = (int)fy, y1 = y0 + 1 < sh ? y0 + 1 : sh - 1;
        float wy = fy - (float)y0;
        for (int x = 0; x < dw; x++) {
            float fx = (x + 0.5f) * sx - 0.5f;
            if (fx < 0) fx = 0;
            int x0 = (int)fx, x1 = x0 + 1 < sw ? x0 + 1 : sw - 1;
            float wx = fx - (float)x0;
            if (x0 > sw - 1) x0 = sw - 1;
            if (y0 > sh - 1) y0 = sh - 1;
            for (int c = 0; c < 3; c++) {
                float a = src[((size_t)y0 * sw + x0) * 3 + c],
                      b = src[((size_t)y0 * sw + x1) * 3 + c];
                float d = src[((size_t)y1 * sw + x0) * 3 + c],
                      e = src[((size_t)y1 * sw + x1) * 3 + c];
                float v = (a * (1 - wx) + b * wx) * (1 - wy) + (d * (1 - wx) + e * wx) * wy;
                dst[((size_t)c * dh + y) * dw + x] = (uint8_t)(v + 0.5f);
            }
        }
    }
}

/* ---- split -------------------------------------------------------------- */

uint64_t cnn_fnv1a64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

int cnn_split_is_val(const char *relpath, uint64_t seed, double val_split)
{
    uint64_t thr = (uint64_t)(val_split * 1000.0 + 0.5);
    return cnn_splitmix64(seed ^ cnn_fnv1a64(relpath)) % 1000 < thr;
}

/* ---- ImageFolder ---------------------------------------------------------- */

typedef struct strlist {
    char **s;
    int n, cap;
} strlist;

static void sl_push(strlist *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->s = realloc(l->s, sizeof(char *) * (size_t)l->cap);
        if (!l->s) abort();
    }
    l->s[l->n++] = strdup(s);
}

static void sl_free(strlist *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    memset(l, 0, sizeof(*l));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b); /* byte order */
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int list_dir(const char *path, int want_dirs, strlist *out, jb_err *err)
{
    DIR *d = opendir(path);
    if (!d)
        return jb_errf(err, "%s: cannot read data folder: %s (check --data)", path,
                       strerror(errno));
    struct dirent *e;
    char full[4096];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(full, sizeof(full), "%s/%s", path, e->d_name);
        if (want_dirs ? is_dir(full) : (!is_dir(full) && is_image_name(e->d_name)))
            sl_push(out, e->d_name);
    }
    closedir(d);
    if (out->n) qsort(out->s, (size_t)out->n, sizeof(char *), cmp_str);
    return 0;
}

static int scan(const char *root, strlist *classes, strlist *files, strlist *file_class_names,
                jb_err *err)
{
    if (!is_dir(root))
        return jb_errf(err,
                       "%s: data folder does not exist or is not a folder (create it with "
                       "`jb-cnn synth --out %s`)",
                       root, root);
    if (list_dir(root, 1, classes, err) < 0) return -1;
    strlist all = {0};
    char path[4096], rel[4096];
    for (int c = 0; c < classes->n; c++) {
        strlist f = {0};
        snprintf(path, sizeof(path), "%s/%s", root, classes->s[c]);
        if (list_dir(path, 0, &f, err) < 0) {
            sl_free(&f);
            sl_free(&all);
            return -1;
        }
        for (int i = 0; i < f.n; i++) {
            snprintf(rel, sizeof(rel), "%s/%s", classes->s[c], f.s[i]);
            sl_push(&all, rel);
        }
        sl_free(&f);
    }
    if (all.n > 1) qsort(all.s, (size_t)all.n, sizeof(char *), cmp_str);
    for (int i = 0; i < all.n; i++) {
        sl_push(files, all.s[i]);
        char *slash = strchr(all.s[i], '/');
        *slash = 0;
        sl_push(file_class_names, all.s[i]);
    }
    sl_free(&all);
    return 0;
}

int cnn_dataset_load(cnn_dataset *ds, const char *root, int size, uint64_t seed, double val_split,
                     jb_err *err)
{
    memset(ds, 0, sizeof(*ds));
    strlist classes = {0}, files = {0}, fcls = {0};
    int rc = -1;
    if (scan(root, &classes, &files, &fcls, err) < 0) goto out;
    if (files.n == 0) {
        jb_errf(err,
                "%s: no images found (expected <class>/*.png|jpg|jpeg; create a set with "
                "`jb-cnn synth --out %s`)",
                root, root);
        goto out;
    }
    size_t plane = (size_t)3 * size * size;
    uint8_t *pix = malloc(plane * (size_t)files.n);
    int *ok = calloc((size_t)files.n, sizeof(int));
    if (!pix || !ok) abort();
#pragma omp parallel for schedule(dynamic, 8)
    for (int i = 0; i < files.n; i++) {
        char path[4096];
        jb_err e;
        uint8_t *rgb;
        int w, h;
        snprintf(path, sizeof(path), "%s/%s", root, files.s[i]);
        if (cnn_image_load(path, &rgb, &w, &h, &e) < 0) {
#pragma omp critical
            fprintf(stderr, "jb-cnn: skipping %s\n", e.msg);
            continue;
        }
        cnn_resize_bilinear(rgb, w, h, pix + plane * (size_t)i, size, size);
        free(rgb);
        ok[i] = 1;
    }
    /* keep the loaded images, in order */
    ds->size = size;
    ds->relpath = calloc((size_t)files.n, sizeof(char *));
    ds->label = calloc((size_t)files.n, sizeof(int));
    ds->is_val = calloc((size_t)files.n, sizeof(int));
    int *used = calloc((size_t)classes.n, sizeof(int));
    for (int i = 0; i < files.n; i++) {
        if (!ok[i]) {
            ds->skipped++;
            continue;
        }
        int k = ds->n++;
        if (k != i) memmove(pix + plane * (size_t)k, pix + plane * (size_t)i, plane);
        ds->relpath[k] = strdup(files.s[i]);
        for (int c = 0; c < classes.n; c++)
            if (!strcmp(classes.s[c], fcls.s[i])) {
                ds->label[k] = c;
                used[c]++;
                break;
            }
        ds->is_val[k] = cnn_split_is_val(files.s[i], seed, val_split);
        if (ds->is_val[k])
            ds->n_val++;
        else
            ds->n_train++;
    }
    ds->pix = pix;
    free(ok);
    /* classes without any image are dropped, so labels stay dense */
    ds->class_names = calloc((size_t)classes.n, sizeof(char *));
    int *remap = calloc((size_t)classes.n, sizeof(int));
    for (int c = 0; c < classes.n; c++) {
        remap[c] = used[c] ? ds->classes : -1;
        if (used[c]) ds->class_names[ds->classes++] = strdup(classes.s[c]);
    }
    for (int i = 0; i < ds->n; i++)
        ds->label[i] = remap[ds->label[i]];
    free(remap);
    free(used);
    if (ds->n == 0) {
        jb_errf(err, "%s: none of the %d images could be read (all corrupt?)", root, files.n);
        goto out;
    }
    if (ds->classes < 2) {
        jb_errf(err,
                "%s: only one class (%s) has images; classification needs at least two "
                "class folders",
                root, ds->class_names[0]);
        goto out;
    }
    if (ds->n_train == 0) {
        jb_errf(err, "%s: no training images after the split (lower --val-split)", root);
        goto out;
    }
    rc = 0;
out:
    sl_free(&classes);
    sl_free(&files);
    sl_free(&fcls);
    if (rc < 0) cnn_dataset_free(ds);
    return rc;
}

void cnn_dataset_free(cnn_dataset *ds)
{
    for (int i = 0; i < ds->n; i++)
        free(ds->relpath[i]);
    for (int c = 0; c < ds->classes; c++)
        free(ds->class_names[c]);
    free(ds->relpath);
    free(ds->class_names);
    free(ds->label);
    free(ds->is_val);
    free(ds->pix);
    memset(ds, 0, sizeof(*ds));
}

void cnn_dataset_batch(const cnn_dataset *ds, const int *idx, const uint8_t *flip, int n, float *x,
                       int *labels)
{
    const int S = ds->size;
    const size_t hw = (size_t)S * S;
    const float k = 1.0f / 255.0f;
    for (int b = 0; b < n; b++) {
        const uint8_t *src = ds->pix + (size_t)idx[b] * 3 * hw;
        labels[b] = ds->label[idx[b]];
        for (int c = 0; c < 3; c++) {
            float *dst = x + ((size_t)c * n + b) * hw;
            const uint8_t *s = src + (size_t)c * hw;
            for (int y = 0; y < S; y++)
                for (int xx = 0; xx < S; xx++)
                    dst[(size_t)y * S + xx] =
                        s[(size_t)y * S + (flip && flip[b] ? S - 1 - xx : xx)] * k;
        }
    }
}

/*
 * test_cnn_data.c — the data side of jb-cnn: the split functions against
 * published test vectors (so the Python twin can reproduce them), split
 * determinism and proportion, ImageFolder loading of PNG and JPEG with
 * labels in byte order, and bad input: missing / empty folder, one class,
 * corrupt and truncated images (skipped and counted), random garbage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>

#include "data.h"
#include "nn.h"
#include "synth.h"

static char dir[256];

static int setup(void **st)
{
    snprintf(dir, sizeof(dir), "/tmp/test_cnn_data.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **st)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

static void test_vectors(void **st)
{
    /* FNV-1a 64 test vectors (Fowler/Noll/Vo reference) and splitmix64's
     * first output for state 0 (Vigna's reference implementation). */
    assert_true(cnn_fnv1a64("") == 0xcbf29ce484222325ULL);
    assert_true(cnn_fnv1a64("a") == 0xaf63dc4c8601ec8cULL);
    assert_true(cnn_fnv1a64("foobar") == 0x85944171f73967e8ULL);
    assert_true(cnn_splitmix64(0) == 0xe220a8397b1dcdafULL);
    uint64_t s = 0;
    assert_true(cnn_rand(&s) == 0xe220a8397b1dcdafULL);
    assert_true(cnn_rand(&s) == 0x6e789e6aa1b965f4ULL);
}

static void test_split(void **st)
{
    char name[64];
    int val = 0, same = 0, n = 5000;
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "class%d/img_%05d.jpg", i % 5, i);
        int a = cnn_split_is_val(name, 123, 0.2);
        assert_int_equal(a, cnn_split_is_val(name, 123, 0.2)); /* deterministic */
        same += a == cnn_split_is_val(name, 124, 0.2);
        val += a;
        assert_int_equal(cnn_split_is_val(name, 123, 0.0), 0);
    }
    assert_true(val > n * 0.17 && val < n * 0.23);  /* about 20 % */
    assert_true(same > n * 0.6 && same < n * 0.75); /* another seed, another split */
}

static void mkdirs(const char *sub)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, sub);
    mkdir(p, 0755);
}

static void put_file(const char *sub, const void *d, size_t n)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, sub);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fwrite(d, 1, n, f);
    fclose(f);
}

static void write_jpeg(const char *sub, int w, int h, uint8_t r, uint8_t g, uint8_t b)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, sub);
    FILE *f = fopen(p, "wb");
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    jpeg_start_compress(&c, TRUE);
    uint8_t *row = malloc((size_t)w * 3);
    for (int x = 0; x < w; x++)
        row[3 * x] = r, row[3 * x + 1] = g, row[3 * x + 2] = b;
    while (c.next_scanline < c.image_height)
        jpeg_write_scanlines(&c, &row, 1);
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    free(row);
}

static void write_png(const char *sub, int w, int h, uint8_t v)
{
    char p[512];
    jb_err err;
    uint8_t *px = malloc((size_t)w * h * 3);
    memset(px, v, (size_t)w * h * 3);
    snprintf(p, sizeof(p), "%s/%s", dir, sub);
    assert_int_equal(cnn_image_save_png(p, px, w, h, &err), 0);
    free(px);
}

static void test_imagefolder(void **st)
{
    mkdirs("ds");
    mkdirs("ds/b_red");
    mkdirs("ds/a_blue");
    mkdirs("ds/c_empty");
    write_jpeg("ds/b_red/x1.jpg", 40, 30, 250, 10, 10);
    write_jpeg("ds/b_red/x2.JPEG", 20, 20, 240, 0, 0);
    write_png("ds/a_blue/y1.png", 16, 16, 200);
    write_png("ds/a_blue/y2.png", 33, 17, 100);
    put_file("ds/a_blue/notes.txt", "ignore me", 9);
    put_file("ds/a_blue/broken.png", "\x89PNG\r\n\x1a\n garbage", 17);
    put_file("ds/b_red/trunc.jpg", "\xff\xd8\xff\xe0\x00\x10JFIF", 10);
    cnn_dataset ds;
    jb_err err;
    char p[512];
    snprintf(p, sizeof(p), "%s/ds", dir);
    if (cnn_dataset_load(&ds, p, 8, 123, 0.0, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(ds.classes, 2); /* the empty class folder is dropped */
    assert_string_equal(ds.class_names[0], "a_blue");
    assert_string_equal(ds.class_names[1], "b_red");
    assert_int_equal(ds.n, 4);
    assert_int_equal(ds.skipped, 2);
    /* byte order: "a_blue/y1.png" < "a_blue/y2.png" < "b_red/x1.jpg" < "b_red/x2.JPEG" */
    assert_string_equal(ds.relpath[0], "a_blue/y1.png");
    assert_string_equal(ds.relpath[3], "b_red/x2.JPEG");
    assert_int_equal(ds.label[0], 0);
    assert_int_equal(ds.label[2], 1);
    /* pixels: the JPEG is red (channel 0 high, 2 low), the PNG grey 200 */
    const uint8_t *red = ds.pix + 2 * 3 * 64;
    assert_true(red[0] > 200 && red[2 * 64] < 60);
    assert_int_equal(ds.pix[0], 200);
    /* a batch scales by 1/255, CNHW, and flips */
    int idx[2] = {0, 2}, lab[2];
    float x[3 * 2 * 64];
    cnn_dataset_batch(&ds, idx, (uint8_t[2]){0, 1}, 2, x, lab);
    assert_int_equal(lab[1], 1);
    assert_float_equal(x[0], 200 / 255.0f, 1e-6);
    assert_true(x[64] > 0.78f); /* sample 1, channel 0 (red) */
    cnn_dataset_free(&ds);
}

static void test_bad_folders(void **st)
{
    cnn_dataset ds;
    jb_err err;
    char p[512];
    assert_int_equal(cnn_dataset_load(&ds, "/nonexistent/data", 8, 1, 0.2, &err), -1);
    assert_non_null(strstr(err.msg, "does not exist"));
    mkdirs("empty");
    snprintf(p, sizeof(p), "%s/empty", dir);
    assert_int_equal(cnn_dataset_load(&ds, p, 8, 1, 0.2, &err), -1);
    assert_non_null(strstr(err.msg, "no images"));
    mkdirs("one");
    mkdirs("one/only");
    write_png("one/only/a.png", 8, 8, 1);
    write_png("one/only/b.png", 8, 8, 2);
    snprintf(p, sizeof(p), "%s/one", dir);
    assert_int_equal(cnn_dataset_load(&ds, p, 8, 1, 0.2, &err), -1);
    assert_non_null(strstr(err.msg, "only one class"));
    mkdirs("allbad");
    mkdirs("allbad/x");
    put_file("allbad/x/a.png", "nope", 4);
    snprintf(p, sizeof(p), "%s/allbad", dir);
    assert_int_equal(cnn_dataset_load(&ds, p, 8, 1, 0.2, &err), -1);
    assert_non_null(strstr(err.msg, "could be read"));
}

static void test_decoder_fuzz(void **st)
{
    /* real PNG and JPEG bytes, truncated and corrupted at random */
    const char *srcs[2] = {"fz_src.png", "fz_src.jpg"};
    uint8_t *img = malloc(32 * 32 * 3);
    cnn_synth_render(CNN_SYNTH_FLOWERS, 2, 0, 32, 1, 0, img);
    char p[512];
    jb_err err;
    snprintf(p, sizeof(p), "%s/%s", dir, srcs[0]);
    assert_int_equal(cnn_image_save_png(p, img, 32, 32, &err), 0);
    write_jpeg(srcs[1], 32, 32, 10, 200, 30);
    free(img);
    uint64_t s = 9;
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof(p), "%s/%s", dir, srcs[k]);
        FILE *f = fopen(p, "rb");
        uint8_t buf[65536];
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        uint8_t *rgb;
        int w, h;
        assert_int_equal(cnn_image_load(p, &rgb, &w, &h, &err), 0);
        free(rgb);
        for (int round = 0; round < 150; round++) {
            uint8_t m[65536];
            memcpy(m, buf, n);
            size_t len = round % 2 ? (size_t)(cnn_rand(&s) % n) : n;
            for (int j = 0; j < 4 && round % 3; j++)
                m[8 + cnn_rand(&s) % (n - 8)] = (uint8_t)cnn_rand(&s);
            put_file("fz.img", m, len);
            snprintf(p, sizeof(p), "%s/fz.img", dir);
            if (cnn_image_load(p, &rgb, &w, &h, &err) == 0) {
                assert_true(w > 0 && h > 0 && (long)w * h <= 64L * 1024 * 1024); /* sane */
                free(rgb);
            }
        }
    }
}

static void test_resize(void **st)
{
    /* a 2x1 black/white image to 4x1: half-pixel centres give 0,64,191,255 */
    uint8_t src[6] = {0, 0, 0, 255, 255, 255}, dst[12];
    cnn_resize_bilinear(src, 2, 1, dst, 4, 1);
    assert_int_equal(dst[0], 0);
    assert_int_equal(dst[1], 64);
    assert_int_equal(dst[2], 191);
    assert_int_equal(dst[3], 255);
    assert_int_equal(dst[4 + 1], 64); /* channel 1 the same */
}

/* The pretrain task has 15 classes (5 shapes x any / pale / dark colour);
 * the flowers task stays at 5. A pale class is brighter than a dark one. */
static void test_pretrain_classes(void **st)
{
    jb_err err;
    char out[400], path[600];
    snprintf(out, sizeof(out), "%s/pre15", dir);
    assert_int_equal(cnn_synth_write(out, CNN_SYNTH_PRETRAIN, 15, 2, 16, 3, 0, &err), 0);
    for (int c = 0; c < 15; c++) {
        struct stat sb;
        snprintf(path, sizeof(path), "%s/%s/%s_0001.png", out, cnn_synth_class_name(1, c),
                 cnn_synth_class_name(1, c));
        assert_int_equal(stat(path, &sb), 0);
    }
    assert_string_equal(cnn_synth_class_name(CNN_SYNTH_PRETRAIN, 5), "circle_pale");
    assert_string_equal(cnn_synth_class_name(CNN_SYNTH_PRETRAIN, 14), "ring_dark");
    assert_int_equal(cnn_synth_write(out, CNN_SYNTH_PRETRAIN, 16, 2, 16, 3, 0, &err), -1);
    assert_non_null(strstr(err.msg, "2..15"));
    assert_int_equal(cnn_synth_write(out, CNN_SYNTH_FLOWERS, 6, 2, 16, 3, 0, &err), -1);
    assert_non_null(strstr(err.msg, "2..5"));
    /* mean brightness of the shape's colour class: pale (circle_pale) vs dark
     * (circle_dark), large easy circles, averaged over 8 images each */
    double mean[2] = {0, 0};
    uint8_t img[48 * 48 * 3];
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 8; i++) {
            cnn_synth_render(CNN_SYNTH_PRETRAIN, k ? 10 : 5, i, 48, 5, 1, img);
            /* the centre pixel is on the circle (easy: centred, large) */
            const uint8_t *p = img + (24 * 48 + 24) * 3;
            mean[k] += (p[0] + p[1] + p[2]) / 3.0 / 8;
        }
    if (!(mean[0] > mean[1] + 80)) fail_msg("pale %.0f vs dark %.0f", mean[0], mean[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),          cmocka_unit_test(test_split),
        cmocka_unit_test(test_imagefolder),      cmocka_unit_test(test_bad_folders),
        cmocka_unit_test(test_decoder_fuzz),     cmocka_unit_test(test_resize),
        cmocka_unit_test(test_pretrain_classes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

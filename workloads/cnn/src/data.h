/*
 * data.h — images and ImageFolder data sets for jb-cnn: PNG/JPEG decoding
 * (libpng, libjpeg), bilinear resizing, the deterministic train/validation
 * split (reproducible in Python, see README.md) and batch assembly.
 */
#ifndef CNN_DATA_H
#define CNN_DATA_H

#include <stdint.h>

#include "jb.h"

/* Decode a .png/.jpg/.jpeg file into RGB8 (malloc'ed, w*h*3). */
int cnn_image_load(const char *path, uint8_t **rgb, int *w, int *h, jb_err *err);
/* Write RGB8 as PNG. */
int cnn_image_save_png(const char *path, const uint8_t *rgb, int w, int h, jb_err *err);
/* Bilinear resize RGB8 (sw x sh) to planar CHW (3 x dh x dw) uint8, half-pixel
 * centres, no antialiasing, edges clamped (like tf.image.resize bilinear). */
void cnn_resize_bilinear(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh);

uint64_t cnn_fnv1a64(const char *s);
/* 1 when relpath ("class/file.png") belongs to the validation set. */
int cnn_split_is_val(const char *relpath, uint64_t seed, double val_split);

typedef struct cnn_dataset {
    int classes;
    char **class_names;
    int n;          /* images loaded */
    char **relpath; /* "class/file", sorted by byte order */
    int *label;     /* class index */
    int *is_val;    /* 1 = validation */
    uint8_t *pix;   /* n x 3 x size x size (CHW) */
    int size;
    int skipped; /* unreadable / corrupt images, not loaded */
    int n_train, n_val;
} cnn_dataset;

/* Scan root/<class>/<file>.{png,jpg,jpeg} (case-insensitive extension), decode,
 * resize to size x size and split. Corrupt files are skipped, counted and
 * reported on stderr. Fails on a missing, unreadable or empty folder, or
 * fewer than two classes with images. */
int cnn_dataset_load(cnn_dataset *ds, const char *root, int size, uint64_t seed, double val_split,
                     jb_err *err);
void cnn_dataset_free(cnn_dataset *ds);

/* Fill x (CNHW, 3 x n x size x size, values scaled by 1/255) and labels for
 * the samples idx[0..n-1]; flip[i] != 0 mirrors sample i horizontally. */
void cnn_dataset_batch(const cnn_dataset *ds, const int *idx, const uint8_t *flip, int n, float *x,
                       int *labels);

#endif

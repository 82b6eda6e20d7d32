/*
 * synth.h — deterministic generator of flower-like (and, for pretraining,
 * geometric) PNG image sets in the ImageFolder layout. See synth.c.
 */
#ifndef CNN_SYNTH_H
#define CNN_SYNTH_H

#include <stdint.h>

#include "jb.h"

enum { CNN_SYNTH_FLOWERS = 0, CNN_SYNTH_PRETRAIN = 1 };

const char *cnn_synth_class_name(int task, int c);
/* Render image `index` of class `cls` (RGB8, size x size x 3). easy = 1:
 * plain background, little variation and noise (for quick tests). */
void cnn_synth_render(int task, int cls, int index, int size, uint64_t seed, int easy,
                      uint8_t *rgb_out);
/* Write out/<class>/<class>_NNNN.png for the first `classes` classes. */
int cnn_synth_write(const char *out, int task, int classes, int per_class, int size, uint64_t seed,
                    int easy, jb_err *err);

#endif

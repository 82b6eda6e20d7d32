/*
 * model.h — the two case-study networks of jb-cnn and their checkpoints.
 *
 * own:         Conv16 3x3 same + ReLU, MaxPool 2, Conv32, MaxPool, Conv64,
 *              MaxPool, Dropout 0.2, Flatten, Dense 128 ReLU, Dense classes
 *              (the TensorFlow image-classification tutorial).
 * mobilenetv2: 3x3 conv stride 2 + BN + ReLU6, 17 inverted-residual blocks,
 *              1x1 conv to 1280 + BN + ReLU6 (the backbone), then GAP,
 *              Dropout 0.2, Dense classes (the head). Width multiplier alpha.
 *
 * Checkpoint file format (little-endian) is documented in README.md.
 */
#ifndef CNN_MODEL_H
#define CNN_MODEL_H

#include "nn.h"

typedef enum { CNN_MODEL_OWN = 1, CNN_MODEL_MOBILENETV2 = 2 } cnn_model_kind;

typedef struct cnn_model {
    cnn_model_kind kind;
    float alpha;
    int size, classes;
    int head_first; /* index of the first head layer in net.layers */
    int units;      /* backbone units (own: 3 conv blocks; mobilenetv2: stem+17+last) */
    cnn_net net;
} cnn_model;

/* Parse "own" / "mobilenetv2". Returns 0 or -1. */
int cnn_model_parse(const char *name, cnn_model_kind *kind);
const char *cnn_model_name(cnn_model_kind kind);

/* Build (and randomly initialise from seed) a model; does not allocate the
 * activations (call cnn_net_alloc). */
int cnn_model_build(cnn_model *m, cnn_model_kind kind, float alpha, int size, int classes,
                    uint64_t seed, jb_err *err);
void cnn_model_free(cnn_model *m);

/* Freeze the backbone; the top `finetune_top` units stay trainable. */
void cnn_model_freeze_backbone(cnn_model *m, int finetune_top);

/* Save every parameter and bn statistic. */
int cnn_ckpt_save(const cnn_model *m, const char *path, jb_err *err);
/* Load a checkpoint into a model built with the same kind (and alpha). With
 * backbone_only, the head is left as initialised (transfer learning: new
 * head, any class count); otherwise the class count and every shape must
 * match. */
int cnn_ckpt_load(cnn_model *m, const char *path, int backbone_only, jb_err *err);

#endif

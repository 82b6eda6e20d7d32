/*
 * joulebench.h — the marker client library (libjoulebench).
 *
 * A workload includes this header and tells a running joulebench recorder when
 * its actions begin and end and what metrics it reached. The recorder passes
 * the path of a unix datagram socket in JOULEBENCH_SOCKET; without it every
 * call returns at once and makes no system call. Calls are thread-safe and
 * never block (a marker that cannot be sent is dropped and counted).
 *
 * Wire format (one datagram, see shared/DESIGN.md):
 *   v1 <unix_ns> <pid> <kind> <name> [<index>] [<value>]
 */
#ifndef JOULEBENCH_H
#define JOULEBENCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Pass as index when an action or metric has no index. */
#define JB_NO_INDEX INT64_MIN

/* Each returns 0 when sent or when markers are disabled, -1 when the marker was
 * invalid (bad name, non-finite value) or was dropped. */
int jb_begin(const char *name, int64_t index);
int jb_end(const char *name, int64_t index);
int jb_event(const char *name);
int jb_metric(const char *name, int64_t index, double value);

/* 1 when JOULEBENCH_SOCKET is set and markers are being sent. */
int jb_enabled(void);
/* Markers that could not be sent (socket full, recorder gone) since start. */
uint64_t jb_dropped(void);

#ifdef __cplusplus
}
#endif
#endif

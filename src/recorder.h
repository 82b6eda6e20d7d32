/*
 * recorder.h — the receiving end of the marker channel.
 *
 * jb_recorder_start() makes a private directory (0700) holding a unix datagram
 * socket "markers.sock" and a thread that receives every datagram, parses it
 * (marker.h), stamps its receive time (Unix ns via jb_mono_ns() + the clock
 * offset) and queues it. The path goes to the workload in JOULEBENCH_SOCKET.
 * The writer thread calls jb_recorder_drain() about once a second and inserts
 * what comes out into the store. Malformed datagrams are counted and kept
 * (first 1000 raw texts, 512 bytes each); they are never fatal.
 *
 * Lifecycle: start -> drain ... -> stop (receives what is still queued in the
 * socket, ends the thread, removes socket and directory) -> drain (the rest)
 * -> free.
 */
#ifndef JB_RECORDER_H
#define JB_RECORDER_H

#include "jb.h"
#include "store.h"

#define JB_RECORDER_MAX_BAD_KEPT 1000  /* bad datagrams kept with their text */
#define JB_RECORDER_MAX_QUEUED 4000000 /* valid markers waiting for a drain */

typedef struct jb_recorder jb_recorder;

/* Start a recorder under $TMPDIR (or /tmp). -1 with err when the directory,
 * socket or thread cannot be made. */
int jb_recorder_start(jb_recorder **r, jb_err *err);

/* The socket path to export as JOULEBENCH_SOCKET. */
const char *jb_recorder_socket_path(const jb_recorder *r);

typedef void (*jb_marker_cb)(void *ctx, const jb_marker *m);
typedef void (*jb_bad_marker_cb)(void *ctx, int64_t recv_ns, const char *reason, const char *raw,
                                 size_t rawlen);

/* Hand everything queued so far, in arrival order, to ok (valid markers) and
 * bad (malformed datagrams; raw is the first 512 bytes, not NUL-terminated).
 * Either callback may be NULL. Returns how many entries were handed over. */
size_t jb_recorder_drain(jb_recorder *r, jb_marker_cb ok, jb_bad_marker_cb bad, void *ctx);

/* Datagrams received so far: valid markers and malformed ones (all counted,
 * also those whose text was not kept). */
void jb_recorder_counts(const jb_recorder *r, uint64_t *valid, uint64_t *bad);

/* Valid markers thrown away because JB_RECORDER_MAX_QUEUED were waiting for
 * a drain (0 unless the writer stalls under a flood). */
uint64_t jb_recorder_overflow(const jb_recorder *r);

/* Receive what is still in the socket, stop the thread, remove socket and
 * directory. Idempotent. */
void jb_recorder_stop(jb_recorder *r);

/* Stop (if needed) and free. NULL is fine. */
void jb_recorder_free(jb_recorder *r);

#endif

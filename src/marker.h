/*
 * marker.h — the v1 marker wire format (shared/DESIGN.md, "Markers").
 *
 * One datagram = one line: `v1 <unix_ns> <pid> <kind> <name> [<index>] [<value>]`.
 * The formatter and the name check live in lib/joulebench.c (the client
 * library, also linked into the joulebench binary and the tests), so the
 * client, `joulebench mark` and the parser agree on one definition of a valid
 * name. The parser (marker.c) is used by the recorder on every datagram and
 * must survive anything: it never reads past len and reports a short reason.
 */
#ifndef JB_MARKER_H
#define JB_MARKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jb_marker; /* defined in store.h */

#define JB_MARKER_MAX_LEN 512        /* longest accepted datagram, bytes */
#define JB_MARKER_NAME_MAX 64        /* longest name, bytes */
#define JB_MARKER_NO_INDEX INT64_MIN /* same as JB_NO_INDEX in joulebench.h */

/* 1 when name matches [A-Za-z0-9_.:/-]{1,64}, else 0. */
int jb_marker_name_ok(const char *name);
/* 1 for "begin" "end" "event" "metric", else 0. */
int jb_marker_kind_ok(const char *kind);

/* Format one marker line (with a trailing newline) into out. index
 * JB_MARKER_NO_INDEX means none; value is used only for kind "metric" and must
 * be finite. The decimal point is always '.', whatever the locale. Returns the
 * length, or -1 for a bad kind, name or value, or when cap is too small. */
int jb_marker_format(char *out, size_t cap, int64_t t_ns, int64_t pid, const char *kind,
                     const char *name, int64_t index, double value);

/* Parse one datagram (len bytes, need not be NUL-terminated; one trailing
 * '\n' allowed). Returns 0 and fills m (recv_ns left 0), or -1 with a short
 * reason ("bad name", "non-finite value", ...) in why. */
int jb_marker_parse(const char *buf, size_t len, struct jb_marker *m, char *why, size_t whycap);

/* Client library internals, for tests and `joulebench mark`: forget the cached
 * JOULEBENCH_SOCKET decision and socket so the next call reads the
 * environment again. Not safe while other threads send markers. */
void jb_client_reset(void);

#endif

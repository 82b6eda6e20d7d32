/*
 * oscar.h — compatibility with OSCAR, the analysis tool of the green-software
 * measurement method (the one behind the Blue Angel for software): its three
 * input files (action log, Janitza GridVis power export, collectl hardware
 * CSV) are read into a store, and written back out of one.
 *
 * Import (jb_oscar_import): runs are cut at startTestrun/stopTestrun, actions
 * at startAction/stopAction (begin/end markers); the power file becomes the
 * channel "gridvis/power" (kind power, W, role total: a wall meter), the
 * hardware file gauges and counters named like joulebench's own usage
 * channels (cpu/total, memory/used, net/received, ...). Only rows within a run
 * (plus a margin) are kept, so a power file covering a whole day is fine.
 * Everything is written in one transaction: bad input loses nothing.
 *
 * Export (jb_oscar_export): the same three files per (variant, phase) from a
 * store: 1 s means of the headline power, decimal comma, zero-padded
 * milliseconds. Formats, quirks and rules: docs/oscar.md.
 *
 * OSCAR times are local wall-clock times without a zone: they are converted
 * with the TZ environment (mktime/localtime_r) unless a fixed UTC offset is
 * given (jb_oscar_tz.fixed).
 */
#ifndef JB_OSCAR_H
#define JB_OSCAR_H

#include "jb.h"
#include "store.h"

/* How OSCAR's local times map to Unix time. */
typedef struct jb_oscar_tz {
    bool fixed;       /* true: local = UTC + offset_s; false: the TZ environment */
    int64_t offset_s; /* e.g. 7200 for CEST */
} jb_oscar_tz;

/* "+02:00", "-5", "+0530", "2" -> seconds east of UTC; -1 if malformed. */
int jb_oscar_parse_utc_offset(const char *s, int64_t *offset_s);

/* Local calendar time (ms 0..999) -> Unix ns. -1 if the date is invalid. */
int jb_oscar_local_to_ns(const jb_oscar_tz *tz, int year, int mon, int day, int hour, int min,
                         int sec, int ms, int64_t *out);
/* Unix ns -> local calendar time (fields as in struct tm, ms 0..999). */
void jb_oscar_ns_to_local(const jb_oscar_tz *tz, int64_t ns, int *year, int *mon, int *day,
                          int *hour, int *min, int *sec, int *ms);

/* ---- action log ---- */

typedef struct jb_oscar_action {
    char name[68];
    int64_t begin_ns, end_ns; /* end_ns -1: no stopAction before stopTestrun */
} jb_oscar_action;

typedef struct jb_oscar_run {
    int64_t start_ns, stop_ns;
    int start_line, stop_line;
    jb_oscar_action *actions;
    size_t nactions;
} jb_oscar_run;

typedef struct jb_oscar_log {
    jb_oscar_run *runs;
    size_t n;
} jb_oscar_log;

/* Parse an action log held in text[0..len). path names the file in errors. */
int jb_oscar_parse_log(const char *path, const char *text, size_t len, const jb_oscar_tz *tz,
                       jb_oscar_log *log, jb_err *err);
void jb_oscar_log_free(jb_oscar_log *log);

/* ---- GridVis power export ---- */

typedef struct jb_oscar_power {
    int64_t *t; /* row timestamps (Unix ns), file order */
    double *w;  /* the avg column in W; NAN for an empty cell */
    size_t n;
    char title[256]; /* line 1 */
    char column[64]; /* the header of the column used ("Wert 1-avg[W]") */
} jb_oscar_power;

int jb_oscar_parse_power(const char *path, const char *text, size_t len, const jb_oscar_tz *tz,
                         jb_oscar_power *p, jb_err *err);
void jb_oscar_power_free(jb_oscar_power *p);

/* ---- collectl hardware CSV ---- */

enum {
    JB_OSCAR_HW_CPU_TOTAL, /* [CPU]Totl%   -> cpu/total, gauge % */
    JB_OSCAR_HW_CPU_USER,  /* [CPU]User%   -> cpu/user */
    JB_OSCAR_HW_CPU_SYS,   /* [CPU]Sys%    -> cpu/system */
    JB_OSCAR_HW_CPU_WAIT,  /* [CPU]Wait%   -> cpu/iowait */
    JB_OSCAR_HW_MEM_USED,  /* [MEM]Used KB -> memory/used, gauge B */
    JB_OSCAR_HW_SWAP_USED, /* [MEM]SwapUsed KB -> memory/swap_used, gauge B */
    JB_OSCAR_HW_DSK_READ,  /* [DSK]ReadKBTot KB/s  -> disk/read, counter B */
    JB_OSCAR_HW_DSK_WRITE, /* [DSK]WriteKBTot KB/s -> disk/written, counter B */
    JB_OSCAR_HW_NET_RX,    /* [NET]RxKBTot KB/s    -> net/received, counter B */
    JB_OSCAR_HW_NET_TX,    /* [NET]TxKBTot KB/s    -> net/sent, counter B */
    JB_OSCAR_HW_N
};

typedef struct jb_oscar_hw_column {
    const char *header;  /* collectl's column header */
    const char *channel; /* joulebench channel name */
    const char *unit;    /* "%" or "B" */
    bool rate;           /* KB/s, integrated into a byte counter */
    double scale;        /* file unit -> channel unit (KB -> B: 1024) */
} jb_oscar_hw_column;

extern const jb_oscar_hw_column jb_oscar_hw_columns[JB_OSCAR_HW_N];

typedef struct jb_oscar_hw {
    int64_t *t;
    double *v; /* n x JB_OSCAR_HW_N values as in the file; NAN = empty or absent */
    size_t n;
    bool present[JB_OSCAR_HW_N];
} jb_oscar_hw;

int jb_oscar_parse_hardware(const char *path, const char *text, size_t len, const jb_oscar_tz *tz,
                            jb_oscar_hw *hw, jb_err *err);
void jb_oscar_hw_free(jb_oscar_hw *hw);

/* ---- OSCAR's definitions ---- */

/* OSCAR's energy of a run in Wh: Σ P_i / 3600 over the 1 s rows whose
 * timestamp t_i lies within [start_ns, stop_ns], both ends inclusive,
 * compared at full (millisecond) precision. NAN rows (empty cells) are
 * skipped. *rows (may be NULL) gets the number of rows summed. */
double jb_oscar_energy_wh(const int64_t *t_ns, const double *p_w, size_t n, int64_t start_ns,
                          int64_t stop_ns, size_t *rows);

/* The OSCAR-form energy stored for an imported run (table oscar_run).
 * Returns 1 and fills *wh / *rows when there is one, 0 when the run was not
 * imported from OSCAR files (or the store predates the table), -1 on error. */
int jb_oscar_run_energy(jb_store *st, int64_t run_id, double *wh, int64_t *rows, jb_err *err);

/* ---- import and export ---- */

typedef struct jb_oscar_files {
    const char *log, *power, *hardware; /* log NULL: phase not given; hardware optional */
} jb_oscar_files;

typedef struct jb_oscar_import_opts {
    jb_oscar_files scenario, baseline, idle;
    const char *variant;   /* scenario runs' variant (default "oscar") */
    const char *name;      /* experiment name (default: the log's file name) */
    int64_t experiment_id; /* > 0: add the runs to this experiment */
    jb_oscar_tz tz;
    int64_t margin_ns; /* samples kept around each run (default 2 s) */
} jb_oscar_import_opts;

typedef struct jb_oscar_import_result {
    int64_t experiment_id;
    int runs[3]; /* scenario, baseline, idle */
    size_t power_rows, power_rows_kept;
    size_t hw_rows, hw_rows_kept;
    size_t markers;
} jb_oscar_import_result;

/* Import into an open store in one transaction (rolled back on error). */
int jb_oscar_import(jb_store *st, const jb_oscar_import_opts *o, jb_oscar_import_result *res,
                    jb_err *err);

/* Write <prefix>_actions.csv, <prefix>_power.csv and <prefix>_hardware.csv per
 * (variant, phase) of the experiment into dir (created if missing); prefix is
 * the phase, or variant_phase for named variants. The written paths are
 * appended to *written (one a line) when it is non-NULL. */
int jb_oscar_export(jb_store *st, int64_t experiment_id, const char *dir, const jb_oscar_tz *tz,
                    jb_buf *written, jb_err *err);

/* Read a whole file (at most 1 GiB) into a malloc'd NUL-terminated buffer. */
int jb_oscar_read_file(const char *path, char **text, size_t *len, jb_err *err);

#endif

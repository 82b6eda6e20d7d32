/*
 * store.h — the SQLite store: every measurement lands here and every analysis
 * reads from here. The schema (tables, columns, units) is documented in one
 * place: the SCHEMA text in store.c, also printed by `joulebench store-schema`.
 *
 * All times are Unix-epoch nanoseconds (monotonic clock + one offset taken at
 * start). The store runs in WAL mode; the writer commits about once a second.
 */
#ifndef JB_STORE_H
#define JB_STORE_H

#include <sqlite3.h>

#include "jb.h"
#include "source.h"

#define JB_SCHEMA_VERSION 2

typedef struct jb_store {
    sqlite3 *db;
    char path[1024];
} jb_store;

/* Open (creating if needed) a store; migrates older schemas, refuses newer
 * ones, and marks runs left 'running' by a killed recorder as 'aborted'
 * (unless readonly). */
int jb_store_open(jb_store *st, const char *path, bool readonly, jb_err *err);
void jb_store_close(jb_store *st);

/* A text column, "" for NULL. */
const char *jb_col_text(sqlite3_stmt *s, int col);

/* The SCHEMA text (for docs and `joulebench store-schema`). */
const char *jb_store_schema_sql(void);

int jb_store_exec(jb_store *st, const char *sql, jb_err *err);
int jb_store_begin(jb_store *st, jb_err *err);
int jb_store_commit(jb_store *st, jb_err *err);

/* Insert the host row describing this machine (CPU, cores, RAM, kernel, OS,
 * version) with extra "key=value" lines from sources; returns its id. */
int64_t jb_store_add_host(jb_store *st, const char *root, const char *extra, jb_err *err);

/* Experiment: name, spec text (may be NULL), kind "measure" or "experiment". */
int64_t jb_store_add_experiment(jb_store *st, int64_t host_id, const char *name,
                                const char *spec_path, const char *spec_text, const char *kind,
                                jb_err *err);

typedef struct jb_run_info {
    int64_t experiment_id;
    const char *variant;      /* "" for plain measure */
    const char *phase;        /* "baseline" | "idle" | "scenario" */
    int rep;                  /* 1-based */
    int seq;                  /* position in the experiment's plan, 1-based */
    const char *command_json; /* argv as a JSON array */
    int64_t interval_ns;
} jb_run_info;

int64_t jb_store_add_run(jb_store *st, const jb_run_info *ri, int64_t start_ns, jb_err *err);

/* Finish a run: status "ok" | "failed" | "aborted"; quality/controls/snapshot
 * are JSON texts (may be NULL). */
int jb_store_finish_run(jb_store *st, int64_t run_id, int64_t end_ns, int exit_code,
                        const char *status, const char *quality_json, jb_err *err);
int jb_store_set_run_text(jb_store *st, int64_t run_id, const char *column, const char *text,
                          jb_err *err);

/* Register a channel for a run; returns its id. */
int64_t jb_store_add_channel(jb_store *st, int64_t run_id, const char *source,
                             const jb_channel_def *def, jb_err *err);

/* Prepared statements of the writer: its transaction and the inserts of
 * samples/markers inside it (prepared once: nothing is parsed per commit). */
typedef struct jb_store_ins {
    jb_store *st;
    sqlite3_stmt *begin, *commit;
    sqlite3_stmt *stage, *move, *clear; /* sample_recent: append, move into sample */
    sqlite3_stmt *sample;
    sqlite3_stmt *marker;
    sqlite3_stmt *bad_marker;
} jb_store_ins;
int jb_store_ins_prepare(jb_store *st, jb_store_ins *ins, jb_err *err);
void jb_store_ins_finalize(jb_store_ins *ins);
int jb_store_ins_begin(jb_store_ins *ins, jb_err *err);
int jb_store_ins_commit(jb_store_ins *ins, jb_err *err);
int jb_store_ins_sample(jb_store_ins *ins, int64_t channel_id, int64_t t_ns, double value, bool ok);
/* The recorder's path: append to sample_recent, and now and then move all
 * staged rows into sample (inside the writer's transaction). */
int jb_store_ins_stage(jb_store_ins *ins, int64_t channel_id, int64_t t_ns, double value, bool ok);
int jb_store_ins_move(jb_store_ins *ins, jb_err *err);
/* True when sample_recent holds rows (a run in progress, or a killed
 * recorder's last minute); false for a version 1 store without the table. */
bool jb_store_has_staged(jb_store *st);

typedef struct jb_marker {
    int64_t t_ns;    /* sender's time */
    int64_t recv_ns; /* recorder's receive time */
    int64_t pid;
    char kind[8]; /* begin end event metric */
    char name[68];
    bool has_index;
    int64_t index;
    bool has_value;
    double value;
} jb_marker;

int jb_store_ins_marker(jb_store_ins *ins, int64_t run_id, const jb_marker *m);
int jb_store_ins_bad_marker(jb_store_ins *ins, int64_t run_id, int64_t recv_ns, const char *reason,
                            const char *raw, size_t rawlen);

#endif

/*
 * store.c — SQLite store: schema, migrations, and the inserts used by the
 * recorder. The SCHEMA below is the one documented description of the store.
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <errno.h>
#include <signal.h>

static const char SCHEMA[] =
    "-- joulebench store, schema version 2. Times are Unix-epoch nanoseconds.\n"
    "-- (Version 2 added sample_recent; a version 1 store is upgraded when opened\n"
    "-- for writing and read as it is otherwise.)\n"
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);\n"
    "-- One row per machine a measurement ran on.\n"
    "CREATE TABLE IF NOT EXISTS host(id INTEGER PRIMARY KEY, hostname TEXT, cpu_model TEXT,\n"
    "  cores INTEGER, ram_bytes INTEGER, kernel TEXT, os TEXT, jb_version TEXT,\n"
    "  extra TEXT);  -- extra: key=value lines from sources (GPU names, ...)\n"
    "-- One spec file run once (or one `joulebench measure`: kind='measure').\n"
    "CREATE TABLE IF NOT EXISTS experiment(id INTEGER PRIMARY KEY, host_id INTEGER, name TEXT,\n"
    "  kind TEXT, spec_path TEXT, spec_text TEXT, created_ns INTEGER,\n"
    "  status TEXT DEFAULT 'running');  -- running | done | aborted | failed\n"
    "-- One repetition of one phase of one variant.\n"
    "CREATE TABLE IF NOT EXISTS run(id INTEGER PRIMARY KEY, experiment_id INTEGER,\n"
    "  variant TEXT, phase TEXT, rep INTEGER, seq INTEGER,\n"
    "  start_ns INTEGER, end_ns INTEGER, exit_code INTEGER,\n"
    "  status TEXT,        -- running | ok | failed | aborted\n"
    "  command TEXT,       -- argv as a JSON array\n"
    "  interval_ns INTEGER,\n"
    "  quality TEXT,       -- JSON: interval p50/p95/max, missed deadlines, read errors\n"
    "  controls TEXT,      -- JSON: reproducibility controls applied or skipped (why)\n"
    "  snapshot TEXT,      -- JSON: governor, turbo, SMT, swap, load, top processes\n"
    "  stderr_tail TEXT, note TEXT,\n"
    "  recorder_pid INTEGER); -- pid of the joulebench that records it (stale-run check)\n"
    "CREATE INDEX IF NOT EXISTS run_by_exp ON run(experiment_id, variant, phase, rep);\n"
    "-- One series per run: kind energy_counter (J, cumulative) | power (W) |\n"
    "-- gauge | counter; estimated=1 for model-based; role 1 total, 2 part.\n"
    "CREATE TABLE IF NOT EXISTS channel(id INTEGER PRIMARY KEY, run_id INTEGER, source TEXT,\n"
    "  name TEXT, unit TEXT, kind TEXT, estimated INTEGER, role INTEGER, meta TEXT,\n"
    "  read_errors INTEGER DEFAULT 0);\n"
    "CREATE INDEX IF NOT EXISTS channel_by_run ON channel(run_id);\n"
    "-- value NULL = a gap (the source could not be read at that time). A channel\n"
    "-- that keeps one value is stored as the first and last sample of that\n"
    "-- stretch (plus one per commit): interpolation between them reproduces it.\n"
    "CREATE TABLE IF NOT EXISTS sample(channel_id INTEGER NOT NULL, t_ns INTEGER NOT NULL,\n"
    "  value REAL, PRIMARY KEY(channel_id, t_ns)) WITHOUT ROWID;\n"
    "-- Samples of a run in progress, not yet in sample: the recorder appends\n"
    "-- here each second (one append point, so a commit writes a page or two\n"
    "-- instead of one per channel) and moves the rows into sample about once\n"
    "-- a minute and when the run ends. Rows left by a killed recorder are moved\n"
    "-- when the store is next opened for writing. Readers take both tables\n"
    "-- (SELECT ... FROM sample UNION ALL SELECT ... FROM sample_recent).\n"
    "CREATE TABLE IF NOT EXISTS sample_recent(channel_id INTEGER NOT NULL,\n"
    "  t_ns INTEGER NOT NULL, value REAL);\n"
    "-- What the workload said: kind begin | end | event | metric.\n"
    "CREATE TABLE IF NOT EXISTS marker(id INTEGER PRIMARY KEY, run_id INTEGER, t_ns INTEGER,\n"
    "  recv_ns INTEGER, pid INTEGER, kind TEXT, name TEXT, idx INTEGER, value REAL);\n"
    "CREATE INDEX IF NOT EXISTS marker_by_run ON marker(run_id, t_ns);\n"
    "-- Datagrams that were not valid markers (kept with their text).\n"
    "CREATE TABLE IF NOT EXISTS bad_marker(id INTEGER PRIMARY KEY, run_id INTEGER,\n"
    "  recv_ns INTEGER, reason TEXT, raw BLOB);\n"
    "-- Runs imported from OSCAR files: OSCAR's own energy, sum of the 1 s power\n"
    "-- rows within [start, end] / 3600 (docs/oscar.md), and the rows summed.\n"
    "CREATE TABLE IF NOT EXISTS oscar_run(run_id INTEGER PRIMARY KEY, energy_wh REAL,\n"
    "  rows INTEGER, mean_w REAL, power_file TEXT, log_file TEXT, log_lines TEXT);\n";

const char *jb_store_schema_sql(void)
{
    return SCHEMA;
}

const char *jb_col_text(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    return t ? (const char *)t : "";
}

int jb_store_exec(jb_store *st, const char *sql, jb_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        jb_errf(err, "%s: %s", st->path, msg ? msg : sqlite3_errmsg(st->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int jb_store_begin(jb_store *st, jb_err *err)
{
    return jb_store_exec(st, "BEGIN", err);
}
int jb_store_commit(jb_store *st, jb_err *err)
{
    return jb_store_exec(st, "COMMIT", err);
}

static int schema_version(jb_store *st)
{
    sqlite3_stmt *s;
    int v = -1;
    if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key='schema_version'", -1, &s,
                           NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return v;
}

static int table_count(jb_store *st)
{
    sqlite3_stmt *s;
    int n = -1;
    if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM sqlite_master", -1, &s, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(s) == SQLITE_ROW) n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return n;
}

bool jb_store_has_staged(jb_store *st)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM sample_recent LIMIT 1", -1, &q, NULL) !=
        SQLITE_OK)
        return false; /* a version 1 store has no such table */
    bool any = sqlite3_step(q) == SQLITE_ROW;
    sqlite3_finalize(q);
    return any;
}

/* Staged rows into sample, then none staged (two statements, one transaction). */
static const char MOVE_STAGED_SQL[] =
    "INSERT OR REPLACE INTO sample SELECT channel_id, t_ns, value "
    "FROM sample_recent ORDER BY channel_id, t_ns";
static const char CLEAR_STAGED_SQL[] = "DELETE FROM sample_recent";

/* Rows a recorder staged and could not move (it was killed) go into sample
 * now. Harmless while another recorder is writing: staged rows are complete,
 * committed samples, wherever they live. */
static int move_staged_samples(jb_store *st, jb_err *err)
{
    if (!jb_store_has_staged(st)) return 0;
    if (jb_store_exec(st, "BEGIN IMMEDIATE", err)) return -1;
    if (jb_store_exec(st, MOVE_STAGED_SQL, err) || jb_store_exec(st, CLEAR_STAGED_SQL, err)) {
        jb_store_exec(st, "ROLLBACK", NULL);
        return -1;
    }
    return jb_store_commit(st, err);
}

/* A recorder killed with SIGKILL leaves its run 'running': when that recorder
 * is gone, mark the run aborted. The samples committed so far stay, and end_ns
 * becomes the last committed sample. */
static int mark_dangling_runs(jb_store *st, jb_err *err)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT id, recorder_pid FROM run WHERE status='running'", -1,
                           &s, NULL) != SQLITE_OK)
        return jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
    int64_t dead[256];
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW && n < 256) {
        pid_t pid = (pid_t)sqlite3_column_int64(s, 1);
        if (pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH))
            dead[n++] = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    for (int i = 0; i < n; i++) {
        char sql[512];
        snprintf(sql, sizeof sql,
                 "UPDATE run SET status='aborted', note=coalesce(note||'; ','')||"
                 "'recorder died while running (found on reopen)', end_ns=coalesce("
                 "(SELECT max(s.t_ns) FROM sample s JOIN channel c ON c.id=s.channel_id "
                 "WHERE c.run_id=%lld), start_ns) WHERE id=%lld",
                 (long long)dead[i], (long long)dead[i]);
        if (jb_store_exec(st, sql, err)) return -1;
    }
    return 0;
}

int jb_store_open(jb_store *st, const char *path, bool readonly, jb_err *err)
{
    memset(st, 0, sizeof *st);
    snprintf(st->path, sizeof st->path, "%s", path);
    int flags = readonly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (readonly && access(path, R_OK) != 0)
        return jb_errf(err,
                       "%s: cannot open store: no such readable file; give the path of a "
                       "store written by joulebench (-o FILE.db)",
                       path);
    /* A writable store is shared by the writer thread and the main thread
     * (serialised by SQLite's mutex); a read-only one is used by one thread,
     * so it skips the per-call locking (13 % of `report` time). */
    flags |= readonly ? SQLITE_OPEN_NOMUTEX : SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
        jb_errf(err, "%s: cannot open store: %s", path, sqlite3_errmsg(st->db));
        sqlite3_close(st->db);
        st->db = NULL;
        return -1;
    }
    sqlite3_busy_timeout(st->db, 5000);
    int n = table_count(st);
    if (n < 0) {
        jb_errf(err,
                "%s: not a readable SQLite store (%s); is it a joulebench store, and "
                "complete?",
                path, sqlite3_errmsg(st->db));
        jb_store_close(st);
        return -1;
    }
    if (!readonly) {
        if (jb_store_exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err) ||
            jb_store_exec(st, SCHEMA, err)) {
            jb_store_close(st);
            return -1;
        }
    }
    int v = schema_version(st);
    /* A new store gets the current version; an older one opened for writing
     * has just been given the tables it lacked (SCHEMA only adds tables). */
    if (!readonly && (n == 0 || (v >= 1 && v < JB_SCHEMA_VERSION))) {
        char sql[128];
        snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO meta VALUES('schema_version','%d')",
                 JB_SCHEMA_VERSION);
        if (jb_store_exec(st, sql, err)) {
            jb_store_close(st);
            return -1;
        }
        v = JB_SCHEMA_VERSION;
    }
    if (v < 0) {
        jb_errf(err, "%s: not a joulebench store (no schema_version in table meta)", path);
        jb_store_close(st);
        return -1;
    }
    if (v > JB_SCHEMA_VERSION) {
        jb_errf(err,
                "%s: store has schema version %d, this joulebench (%s) reads up to %d; "
                "upgrade joulebench to read it",
                path, v, JB_VERSION, JB_SCHEMA_VERSION);
        jb_store_close(st);
        return -1;
    }
    if (!readonly && (move_staged_samples(st, err) || mark_dangling_runs(st, err))) {
        jb_store_close(st);
        return -1;
    }
    return 0;
}

void jb_store_close(jb_store *st)
{
    if (st->db) sqlite3_close(st->db);
    st->db = NULL;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '"'))
        s[--n] = 0;
}

static void host_cpu_model(const char *root, char *out, size_t cap)
{
    static char buf[65536];
    snprintf(out, cap, "unknown");
    if (jb_read_file(root, "/proc/cpuinfo", buf, sizeof buf) < 0) return;
    char *p = strstr(buf, "model name");
    if (!p) return;
    p = strchr(p, ':');
    if (!p) return;
    p++;
    while (*p == ' ' || *p == '\t')
        p++;
    char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n >= cap) n = cap - 1;
    memcpy(out, p, n);
    out[n] = 0;
}

static long long host_ram(const char *root)
{
    char buf[8192];
    if (jb_read_file(root, "/proc/meminfo", buf, sizeof buf) < 0) return 0;
    char *p = strstr(buf, "MemTotal:");
    return p ? atoll(p + 9) * 1024LL : 0;
}

static void host_os(const char *root, char *out, size_t cap)
{
    char buf[4096];
    snprintf(out, cap, "Linux");
    if (jb_read_file(root, "/etc/os-release", buf, sizeof buf) < 0) return;
    char *p = strstr(buf, "PRETTY_NAME=");
    if (!p) return;
    p += 12;
    if (*p == '"') p++;
    char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n >= cap) n = cap - 1;
    memcpy(out, p, n);
    out[n] = 0;
    trim(out);
}

int64_t jb_store_add_host(jb_store *st, const char *root, const char *extra, jb_err *err)
{
    char cpu[256], os[256], hostname[256] = "";
    struct utsname u;
    uname(&u);
    gethostname(hostname, sizeof hostname - 1);
    host_cpu_model(root, cpu, sizeof cpu);
    host_os(root, os, sizeof os);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO host(hostname,cpu_model,cores,ram_bytes,kernel,os,"
                           "jb_version,extra) VALUES(?,?,?,?,?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        return jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
    char kernel[600];
    snprintf(kernel, sizeof kernel, "%s %s", u.release, u.machine);
    sqlite3_bind_text(s, 1, hostname, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, cpu, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 3, (int)sysconf(_SC_NPROCESSORS_ONLN));
    sqlite3_bind_int64(s, 4, host_ram(root));
    sqlite3_bind_text(s, 5, kernel, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 6, os, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 7, JB_VERSION, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 8, extra ? extra : "", -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
    return sqlite3_last_insert_rowid(st->db);
}

int64_t jb_store_add_experiment(jb_store *st, int64_t host_id, const char *name,
                                const char *spec_path, const char *spec_text, const char *kind,
                                jb_err *err)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO experiment(host_id,name,kind,spec_path,spec_text,"
                           "created_ns) VALUES(?,?,?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        return jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
    sqlite3_bind_int64(s, 1, host_id);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, spec_path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 5, spec_text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 6, jb_real_ns());
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
    return sqlite3_last_insert_rowid(st->db);
}

int64_t jb_store_add_run(jb_store *st, const jb_run_info *ri, int64_t start_ns, jb_err *err)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(
            st->db,
            "INSERT INTO run(experiment_id,variant,phase,rep,seq,start_ns,"
            "status,command,interval_ns,recorder_pid) VALUES(?,?,?,?,?,?,'running',?,?,?)",
            -1, &s, NULL) != SQLITE_OK)
        return jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
    sqlite3_bind_int64(s, 1, ri->experiment_id);
    sqlite3_bind_text(s, 2, ri->variant ? ri->variant : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, ri->phase ? ri->phase : "scenario", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 4, ri->rep);
    sqlite3_bind_int(s, 5, ri->seq);
    sqlite3_bind_int64(s, 6, start_ns);
    sqlite3_bind_text(s, 7, ri->command_json, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 8, ri->interval_ns);
    sqlite3_bind_int64(s, 9, getpid());
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
    return sqlite3_last_insert_rowid(st->db);
}

int jb_store_finish_run(jb_store *st, int64_t run_id, int64_t end_ns, int exit_code,
                        const char *status, const char *quality_json, jb_err *err)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db,
                           "UPDATE run SET end_ns=?, exit_code=?, status=?, "
                           "quality=coalesce(?,quality) WHERE id=?",
                           -1, &s, NULL) != SQLITE_OK)
        return jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
    sqlite3_bind_int64(s, 1, end_ns);
    sqlite3_bind_int(s, 2, exit_code);
    sqlite3_bind_text(s, 3, status, -1, SQLITE_TRANSIENT);
    if (quality_json)
        sqlite3_bind_text(s, 4, quality_json, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, 4);
    sqlite3_bind_int64(s, 5, run_id);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
    return 0;
}

int jb_store_set_run_text(jb_store *st, int64_t run_id, const char *column, const char *text,
                          jb_err *err)
{
    static const char *allowed[] = {"controls", "snapshot", "stderr_tail",
                                    "note",     "quality",  "command"};
    bool ok = false;
    for (size_t i = 0; i < JB_ARRAY_LEN(allowed); i++)
        if (!strcmp(column, allowed[i])) ok = true;
    if (!ok) return jb_errf(err, "internal: run column %s cannot be set", column);
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE run SET %s=? WHERE id=?", column);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
    sqlite3_bind_text(s, 1, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, run_id);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
    return 0;
}

int64_t jb_store_add_channel(jb_store *st, int64_t run_id, const char *source,
                             const jb_channel_def *def, jb_err *err)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO channel(run_id,source,name,unit,kind,estimated,role,meta)"
                           " VALUES(?,?,?,?,?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        return jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
    sqlite3_bind_int64(s, 1, run_id);
    sqlite3_bind_text(s, 2, source, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, def->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, def->unit, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 5, jb_kind_name(def->kind), -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 6, def->estimated);
    sqlite3_bind_int(s, 7, (int)def->role);
    sqlite3_bind_text(s, 8, def->meta[0] ? def->meta : NULL, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
    return sqlite3_last_insert_rowid(st->db);
}

int jb_store_ins_prepare(jb_store *st, jb_store_ins *ins, jb_err *err)
{
    memset(ins, 0, sizeof *ins);
    ins->st = st;
    if (sqlite3_prepare_v2(st->db, "BEGIN", -1, &ins->begin, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "COMMIT", -1, &ins->commit, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "INSERT INTO sample_recent VALUES(?,?,?)", -1, &ins->stage,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, MOVE_STAGED_SQL, -1, &ins->move, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, CLEAR_STAGED_SQL, -1, &ins->clear, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO sample VALUES(?,?,?)", -1, &ins->sample,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db,
                           "INSERT INTO marker(run_id,t_ns,recv_ns,pid,kind,name,idx,value) "
                           "VALUES(?,?,?,?,?,?,?,?)",
                           -1, &ins->marker, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db,
                           "INSERT INTO bad_marker(run_id,recv_ns,reason,raw) VALUES(?,?,?,?)", -1,
                           &ins->bad_marker, NULL) != SQLITE_OK) {
        jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
        jb_store_ins_finalize(ins);
        return -1;
    }
    return 0;
}

void jb_store_ins_finalize(jb_store_ins *ins)
{
    sqlite3_finalize(ins->begin);
    sqlite3_finalize(ins->commit);
    sqlite3_finalize(ins->stage);
    sqlite3_finalize(ins->move);
    sqlite3_finalize(ins->clear);
    sqlite3_finalize(ins->sample);
    sqlite3_finalize(ins->marker);
    sqlite3_finalize(ins->bad_marker);
    memset(ins, 0, sizeof *ins);
}

static int ins_step(jb_store_ins *ins, sqlite3_stmt *s, jb_err *err)
{
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE)
        jb_errf(err, "%s: %s: %s", ins->st->path, sqlite3_sql(s), sqlite3_errmsg(ins->st->db));
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

int jb_store_ins_begin(jb_store_ins *ins, jb_err *err)
{
    return ins_step(ins, ins->begin, err);
}

int jb_store_ins_commit(jb_store_ins *ins, jb_err *err)
{
    return ins_step(ins, ins->commit, err);
}

static int bind_step_sample(sqlite3_stmt *s, int64_t channel_id, int64_t t_ns, double value,
                            bool ok)
{
    sqlite3_bind_int64(s, 1, channel_id);
    sqlite3_bind_int64(s, 2, t_ns);
    if (ok)
        sqlite3_bind_double(s, 3, value);
    else
        sqlite3_bind_null(s, 3);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

int jb_store_ins_sample(jb_store_ins *ins, int64_t channel_id, int64_t t_ns, double value, bool ok)
{
    return bind_step_sample(ins->sample, channel_id, t_ns, value, ok);
}

int jb_store_ins_stage(jb_store_ins *ins, int64_t channel_id, int64_t t_ns, double value, bool ok)
{
    return bind_step_sample(ins->stage, channel_id, t_ns, value, ok);
}

int jb_store_ins_move(jb_store_ins *ins, jb_err *err)
{
    return ins_step(ins, ins->move, err) || ins_step(ins, ins->clear, err) ? -1 : 0;
}

int jb_store_ins_marker(jb_store_ins *ins, int64_t run_id, const jb_marker *m)
{
    sqlite3_stmt *s = ins->marker;
    sqlite3_bind_int64(s, 1, run_id);
    sqlite3_bind_int64(s, 2, m->t_ns);
    sqlite3_bind_int64(s, 3, m->recv_ns);
    sqlite3_bind_int64(s, 4, m->pid);
    sqlite3_bind_text(s, 5, m->kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 6, m->name, -1, SQLITE_TRANSIENT);
    if (m->has_index)
        sqlite3_bind_int64(s, 7, m->index);
    else
        sqlite3_bind_null(s, 7);
    if (m->has_value)
        sqlite3_bind_double(s, 8, m->value);
    else
        sqlite3_bind_null(s, 8);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

int jb_store_ins_bad_marker(jb_store_ins *ins, int64_t run_id, int64_t recv_ns, const char *reason,
                            const char *raw, size_t rawlen)
{
    sqlite3_stmt *s = ins->bad_marker;
    sqlite3_bind_int64(s, 1, run_id);
    sqlite3_bind_int64(s, 2, recv_ns);
    sqlite3_bind_text(s, 3, reason, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 4, raw, (int)(rawlen > 512 ? 512 : rawlen), SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

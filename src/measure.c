/*
 * measure.c — one measured run (see measure.h): the sequence that makes the
 * data trustworthy. Sampling starts before the command and ends after it; the
 * closing sample is taken while the command is still a zombie, so its whole
 * process tree is counted; the run row is marked ok / failed / aborted.
 */
#include "measure.h"

#include <errno.h>
#include <json-c/json.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "recorder.h"
#include "spec.h"
#include "workload.h"

static const char *default_store(const jb_measure_opts *o)
{
    if (o->store_path) return o->store_path;
    const char *e = getenv("JOULEBENCH_DB");
    return (e && *e) ? e : "joulebench.db";
}

static char *argv_json(char **argv)
{
    json_object *a = json_object_new_array();
    for (char **p = argv; *p; p++)
        json_object_array_add(a, json_object_new_string(*p));
    char *s = strdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
    json_object_put(a);
    return s;
}

static int open_store(const jb_measure_opts *o, jb_measure_result *res, jb_meter *m,
                      int64_t *exp_id, jb_err *err)
{
    if (o->no_store) {
        snprintf(res->tmpdir, sizeof res->tmpdir, "%s/joulebench-XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(res->tmpdir))
            return jb_errf(err, "%s: cannot create a temporary directory: %s", res->tmpdir,
                           strerror(errno));
        snprintf(res->store_path, sizeof res->store_path, "%s/run.db", res->tmpdir);
    } else {
        snprintf(res->store_path, sizeof res->store_path, "%s", default_store(o));
    }
    if (jb_store_open(&res->store, res->store_path, false, err)) return -1;
    jb_buf extra = {0};
    jb_meter_host_info(m, &extra);
    int64_t host = jb_store_add_host(&res->store, m->env.root, extra.data, err);
    jb_buf_free(&extra);
    if (host < 0) return -1;
    char name_buf[256];
    snprintf(name_buf, sizeof name_buf, "%s", o->argv[0]);
    const char *name = o->name ? o->name : basename(name_buf);
    *exp_id = jb_store_add_experiment(&res->store, host, name, NULL, NULL, "measure", err);
    return *exp_id < 0 ? -1 : 0;
}

static const char *run_status(const jb_run_result *r)
{
    if (r->interrupted) return "aborted";
    if (r->exec_failed || r->timed_out || r->exit_code != 0 || r->note[0]) return "failed";
    return "ok";
}

/* Sleep until the monotonic deadline, a signal, or the process's exit. */
static void sleep_window(int64_t until_mono, jb_workload *w)
{
    while (jb_mono_ns() < until_mono && !jb_workload_interrupted()) {
        if (w && jb_workload_has_exited(w)) return;
        int64_t left = until_mono - jb_mono_ns();
        if (left > 10000000) left = 10000000;
        if (left <= 0) break;
        struct timespec ts = {0, (long)left};
        nanosleep(&ts, NULL);
    }
}

static void set_start(jb_store *st, int64_t run_id, int64_t mono)
{
    char sql[160];
    snprintf(sql, sizeof sql, "UPDATE run SET start_ns=%lld WHERE id=%lld",
             (long long)(mono + jb_clock_offset_ns()), (long long)run_id);
    jb_store_exec(st, sql, NULL);
}

/* Receive time (monotonic) of the first event marker `name` of the run, or
 * -1. The writer thread commits markers about once a second, so the window
 * starts at the marker's receive time, not when it is seen here. */
static int64_t ready_marker_mono(jb_store *st, int64_t run_id, const char *name)
{
    sqlite3_stmt *q;
    int64_t t = -1;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT recv_ns FROM marker WHERE run_id=? AND kind='event' AND "
                           "name=? ORDER BY id LIMIT 1",
                           -1, &q, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(q, 1, run_id);
    sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW) t = sqlite3_column_int64(q, 0) - jb_clock_offset_ns();
    sqlite3_finalize(q);
    return t;
}

/* Wait for the ready marker; the window start, or -1 (note filled). */
static int64_t wait_ready_marker(jb_store *st, const jb_run_spec *rs, jb_workload *w,
                                 jb_run_result *out)
{
    int64_t limit = rs->ready_timeout_ns > 0 ? rs->ready_timeout_ns : JB_IDLE_READY_TIMEOUT_NS;
    for (;;) {
        int64_t t = ready_marker_mono(st, out->run_id, rs->ready_marker);
        if (t >= 0) return t > w->start_mono ? t : w->start_mono;
        if (jb_workload_interrupted()) return -1;
        if (jb_workload_has_exited(w) || jb_mono_ns() - w->start_mono > limit) break;
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    /* The marker may have arrived just before the exit: look once more. */
    int64_t t = ready_marker_mono(st, out->run_id, rs->ready_marker);
    if (t >= 0) return t;
    snprintf(out->note, sizeof out->note,
             "the idle command %s before sending the ready "
             "marker '%s'",
             jb_workload_has_exited(w) ? "exited" : "timed out", rs->ready_marker);
    return -1;
}

/* Idle: started, ready after a delay or a marker, measured for a fixed
 * window, stopped. */
static int64_t idle_window(jb_store *st, const jb_run_spec *rs, jb_sampler *smp, jb_workload *w,
                           jb_run_result *out)
{
    int64_t start;
    if (rs->ready_marker) {
        start = wait_ready_marker(st, rs, w, out);
        if (start < 0) {
            if (kill(-w->pid, SIGTERM) != 0) kill(w->pid, SIGTERM);
            jb_workload_wait(w, 3000000000LL);
            out->exit_code = w->term_signal ? 0 : w->exit_code;
            return jb_mono_ns();
        }
    } else {
        sleep_window(w->start_mono + rs->ready_delay_ns, w);
        start = jb_mono_ns();
    }
    set_start(st, out->run_id, start);
    sleep_window(start + rs->window_ns, w);
    jb_sampler_sample_now(smp);
    /* A ready marker is seen up to a writer commit (~1 s) late: the window is
     * still [start, start + window], the samples cover it. */
    int64_t end = jb_mono_ns();
    if (end > start + rs->window_ns) end = start + rs->window_ns;
    if (jb_workload_has_exited(w))
        snprintf(out->note, sizeof out->note, "the idle command exited before the window ended");
    if (kill(-w->pid, SIGTERM) != 0) kill(w->pid, SIGTERM);
    jb_workload_wait(w, 3000000000LL);
    out->exit_code = (w->term_signal == SIGTERM || w->term_signal == SIGKILL) ? 0 : w->exit_code;
    return end;
}

/* Command to completion (scenario) or for an idle window. Returns the end
 * time (monotonic). */
static int64_t run_command(jb_store *st, const jb_run_spec *rs, jb_sampler *smp, jb_recorder *rec,
                           jb_workload *w, jb_run_result *out, jb_err *err, int *spawn_rc)
{
    char sock_env[300];
    char *env_add[66] = {NULL};
    int ne = 0;
    if (rec) {
        snprintf(sock_env, sizeof sock_env, "JOULEBENCH_SOCKET=%s", jb_recorder_socket_path(rec));
        env_add[ne++] = sock_env;
    }
    for (char *const *e = rs->env_add; e && *e && ne < 65; e++)
        env_add[ne++] = *e;
    jb_workload_opts wo = {.argv = rs->argv,
                           .env_add = env_add,
                           .cwd = rs->cwd,
                           .capture_stderr_tail = rs->capture_stderr,
                           .new_process_group = rs->new_process_group || rs->window_ns > 0,
                           .stdout_to_stderr = rs->stdout_to_stderr};
    *spawn_rc = jb_workload_spawn(w, &wo, err);
    if (*spawn_rc) return jb_mono_ns();
    jb_sampler_set_target(smp, w->pid);
    int64_t end;
    if (rs->window_ns > 0) {
        end = idle_window(st, rs, smp, w, out);
    } else {
        set_start(st, out->run_id, w->start_mono);
        jb_workload_wait(w, rs->timeout_ns);
        end = w->end_mono;
        jb_sampler_sample_now(smp); /* closing sample: the tree is still there (zombie) */
        out->exit_code = w->exit_code;
        out->timed_out = w->timed_out;
    }
    out->exec_failed = w->exec_failed;
    out->exec_errno = w->exec_errno;
    return end;
}

static void finish_notes(jb_store *st, const jb_run_spec *rs, jb_workload *w, jb_run_result *out)
{
    if (w->tail_len) {
        snprintf(out->stderr_tail, sizeof out->stderr_tail, "%s", w->tail);
        jb_store_set_run_text(st, out->run_id, "stderr_tail", w->tail, NULL);
    }
    if (out->timed_out) snprintf(out->note, sizeof out->note, "timed out");
    if (out->exec_failed)
        snprintf(out->note, sizeof out->note, "cannot run %s: %s", rs->argv[0],
                 strerror(out->exec_errno));
    if (out->note[0]) jb_store_set_run_text(st, out->run_id, "note", out->note, NULL);
}

int jb_run_one(jb_store *st, jb_meter *m, const jb_run_spec *rs, jb_run_result *out, jb_err *err)
{
    memset(out, 0, sizeof *out);
    jb_recorder *rec = NULL;
    jb_err rerr;
    if (rs->argv && jb_recorder_start(&rec, &rerr))
        fprintf(stderr, "joulebench: warning: markers disabled: %s\n", rerr.msg);
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    jb_workload_install_signals();
    jb_run_info ri = rs->info;
    char *cmd = rs->argv ? argv_json((char **)rs->argv) : NULL;
    if (!ri.command_json) ri.command_json = cmd;
    out->run_id = jb_store_add_run(st, &ri, jb_mono_ns() + jb_clock_offset_ns(), err);
    free(cmd);
    jb_sampler *smp = NULL;
    if (out->run_id < 0 || jb_sampler_start(&smp, m, st, out->run_id, rec, err)) {
        jb_recorder_free(rec);
        return -1;
    }
    jb_workload w;
    memset(&w, 0, sizeof w);
    w.err_fd = w.pidfd = -1;
    int spawn_rc = 0;
    int64_t end;
    if (rs->argv) {
        end = run_command(st, rs, smp, rec, &w, out, err, &spawn_rc);
    } else { /* baseline: nothing of ours runs */
        int64_t start = jb_mono_ns();
        set_start(st, out->run_id, start);
        sleep_window(start + rs->window_ns, NULL);
        end = jb_mono_ns();
        jb_sampler_sample_now(smp);
    }
    out->interrupted = jb_workload_interrupted();
    if (rec) jb_recorder_stop(rec);
    jb_err serr;
    if (jb_sampler_stop(smp, &out->q, &serr))
        fprintf(stderr, "joulebench: warning: %s\n", serr.msg);
    if (rs->argv && !spawn_rc) jb_workload_reap(&w);
    if (spawn_rc) out->exit_code = JB_EXIT_SETUP;
    finish_notes(st, rs, &w, out);
    snprintf(out->status, sizeof out->status, "%s", spawn_rc ? "failed" : run_status(out));
    char *qj = jb_quality_json(&out->q, m);
    jb_store_finish_run(st, out->run_id, end + jb_clock_offset_ns(), out->exit_code, out->status,
                        qj, NULL);
    free(qj);
    jb_recorder_free(rec);
    return spawn_rc ? -1 : 0;
}

/* `--json -` or `--csv -`: stdout carries joulebench's data, so the
 * command's own stdout is sent to stderr instead of being mixed into it. */
static bool writes_stdout(const jb_measure_opts *o)
{
    return (o->json_path && !strcmp(o->json_path, "-")) ||
           (o->csv_path && !strcmp(o->csv_path, "-"));
}

int jb_measure_run(const jb_measure_opts *o, jb_measure_result *res, jb_err *err)
{
    memset(res, 0, sizeof *res);
    jb_meter *m = calloc(1, sizeof *m);
    if (!m) return jb_errf(err, "out of memory");
    jb_meter_opts mo = {.root = o->root,
                        .interval_ns = o->interval_ns,
                        .sources = o->sources,
                        .opts = o->opts,
                        .nopts = o->nopts};
    if (jb_meter_open(m, &mo, err)) {
        res->exit_code = strstr(err->msg, "unknown source") ? JB_EXIT_USAGE : JB_EXIT_SETUP;
        free(m);
        return -1;
    }
    int64_t exp_id = 0;
    if (open_store(o, res, m, &exp_id, err)) {
        res->exit_code = JB_EXIT_DATA;
        jb_meter_close(m);
        free(m);
        return -1;
    }
    jb_workload_reset_interrupt();
    jb_run_spec rs = {.info = {.experiment_id = exp_id,
                               .variant = "",
                               .phase = "scenario",
                               .rep = 1,
                               .seq = 1,
                               .interval_ns = o->interval_ns},
                      .argv = o->argv,
                      .stdout_to_stderr = writes_stdout(o)};
    jb_run_result rr;
    int rc = jb_run_one(&res->store, m, &rs, &rr, err);
    res->run_id = rr.run_id;
    res->exit_code = rr.exit_code;
    res->exec_failed = rr.exec_failed;
    res->exec_errno = rr.exec_errno;
    res->interrupted = rr.interrupted;
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE experiment SET status='%s' WHERE id=%lld",
             res->interrupted ? "aborted" : "done", (long long)exp_id);
    jb_store_exec(&res->store, sql, NULL);
    jb_meter_close(m);
    free(m);
    if (rc) res->exit_code = JB_EXIT_SETUP;
    return rc;
}

void jb_measure_finish(const jb_measure_opts *o, jb_measure_result *res)
{
    jb_store_close(&res->store);
    if (o->no_store && res->tmpdir[0]) {
        const char *suffix[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) {
            char p[1100];
            snprintf(p, sizeof p, "%s%s", res->store_path, suffix[i]);
            unlink(p);
        }
        rmdir(res->tmpdir);
    }
}

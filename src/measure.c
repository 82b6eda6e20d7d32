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
#include <sys/prctl.h>
#include <unistd.h>

#include "recorder.h"
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
    for (char **p = argv; *p; p++) json_object_array_add(a, json_object_new_string(*p));
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

static const char *run_status(const jb_measure_result *res)
{
    if (res->interrupted) return "aborted";
    if (res->exec_failed || res->exit_code != 0) return "failed";
    return "ok";
}

/* The part between "sampler started" and "sampler stopped". */
static void run_workload(const jb_measure_opts *o, jb_measure_result *res, jb_sampler *smp,
                         jb_recorder *rec, jb_workload *w, jb_err *err, int *spawn_rc)
{
    char sock_env[300];
    char *env_add[2] = {NULL, NULL};
    if (rec) {
        snprintf(sock_env, sizeof sock_env, "JOULEBENCH_SOCKET=%s", jb_recorder_socket_path(rec));
        env_add[0] = sock_env;
    }
    jb_workload_opts wo = {.argv = o->argv, .env_add = env_add};
    *spawn_rc = jb_workload_spawn(w, &wo, err);
    if (*spawn_rc) return;
    jb_sampler_set_target(smp, w->pid);
    char sql[160];
    snprintf(sql, sizeof sql, "UPDATE run SET start_ns=%lld WHERE id=%lld",
             (long long)(w->start_mono + jb_clock_offset_ns()), (long long)res->run_id);
    jb_store_exec(&res->store, sql, NULL);
    jb_workload_wait(w, 0);
    jb_sampler_sample_now(smp); /* closing sample: the tree is still there (zombie) */
    res->exit_code = w->exit_code;
    res->exec_failed = w->exec_failed;
    res->exec_errno = w->exec_errno;
    res->interrupted = jb_workload_interrupted();
}

int jb_measure_run(const jb_measure_opts *o, jb_measure_result *res, jb_err *err)
{
    memset(res, 0, sizeof *res);
    jb_meter *m = calloc(1, sizeof *m);
    if (!m) return jb_errf(err, "out of memory");
    jb_meter_opts mo = {.root = o->root, .interval_ns = o->interval_ns, .sources = o->sources,
                        .opts = o->opts, .nopts = o->nopts};
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
    jb_recorder *rec = NULL;
    jb_err rerr;
    if (jb_recorder_start(&rec, &rerr))
        fprintf(stderr, "joulebench: warning: markers disabled: %s\n", rerr.msg);
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    jb_workload_install_signals();
    jb_workload_reset_interrupt();
    char *cmd = argv_json(o->argv);
    jb_run_info ri = {.experiment_id = exp_id, .variant = "", .phase = "scenario", .rep = 1,
                      .seq = 1, .command_json = cmd, .interval_ns = o->interval_ns};
    res->run_id = jb_store_add_run(&res->store, &ri, jb_mono_ns() + jb_clock_offset_ns(), err);
    free(cmd);
    jb_sampler *smp = NULL;
    if (res->run_id < 0 || jb_sampler_start(&smp, m, &res->store, res->run_id, rec, err)) {
        res->exit_code = JB_EXIT_SETUP;
        jb_recorder_free(rec);
        jb_meter_close(m);
        free(m);
        return -1;
    }
    jb_workload w;
    int spawn_rc;
    run_workload(o, res, smp, rec, &w, err, &spawn_rc);
    int64_t end_ns = (spawn_rc ? jb_mono_ns() : w.end_mono) + jb_clock_offset_ns();
    if (rec) jb_recorder_stop(rec);
    jb_quality q;
    jb_err serr;
    if (jb_sampler_stop(smp, &q, &serr))
        fprintf(stderr, "joulebench: warning: %s\n", serr.msg);
    if (!spawn_rc) jb_workload_reap(&w);
    char *qj = jb_quality_json(&q, m);
    if (spawn_rc) res->exit_code = JB_EXIT_SETUP;
    jb_store_finish_run(&res->store, res->run_id, end_ns, res->exit_code,
                        spawn_rc ? "failed" : run_status(res), qj, NULL);
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE experiment SET status='%s' WHERE id=%lld",
             res->interrupted ? "aborted" : "done", (long long)exp_id);
    jb_store_exec(&res->store, sql, NULL);
    free(qj);
    jb_recorder_free(rec);
    jb_meter_close(m);
    free(m);
    return spawn_rc ? -1 : 0;
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

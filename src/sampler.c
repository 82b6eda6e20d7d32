/*
 * sampler.c — the two threads of a measurement run.
 *
 * Sampling thread: wakes on CLOCK_MONOTONIC absolute deadlines (no drift),
 * timer slack 1 ns, reads every source into one row of a ring buffer and does
 * nothing else: no I/O, no allocation. If a source needs reading more often
 * than the interval (a counter that could wrap twice), the period is divided
 * and the in-between wake-ups read only that source.
 *
 * Writer thread: about once a second moves the rows (and the recorder's
 * markers) into SQLite in one transaction, so a crash loses at most a second.
 * The sampling thread tells it when a second's worth of samples is queued
 * (sem_post right after a sample: no timer of the writer's own, and the
 * writer wakes while the sampler's CPU is awake anyway); a fallback timeout
 * keeps markers flowing when the interval is longer than that.
 */
#include "meter.h"
#include "recorder.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#define HIST_BUCKETS 4000

typedef struct hist {
    uint64_t b[HIST_BUCKETS];
    uint64_t n, over;
    double width_us, max_us;
} hist;

struct jb_sampler {
    jb_meter *m;
    jb_store *st;
    struct jb_recorder *rec;
    int64_t run_id;
    int64_t offset_ns;
    int64_t *chan_ids;
    int nch;
    /* ring */
    size_t cap;
    int64_t *row_t;
    double *row_v;
    uint8_t *row_ok;
    _Atomic size_t head, tail;
    /* threads */
    pthread_t sampler_thr, writer_thr;
    pthread_mutex_t read_lock; /* sources are read by one thread at a time */
    sem_t due;                 /* posted by the sampler when a flush is due */
    int64_t last_due, due_ns;  /* sampler side: when it last posted, how often */
    _Atomic int stop;
    int64_t step_ns;
    int sub; /* wake-ups per sample */
    /* stats (sampler thread, or under read_lock) */
    int64_t last_sample_mono;
    hist intervals, jitter;
    uint64_t samples, missed, overflows;
    uint64_t read_errors[JB_MAX_CHANNELS];
    double scratch_v[JB_MAX_CHANNELS];
    uint8_t scratch_ok[JB_MAX_CHANNELS];
    jb_store_ins ins;
    /* Writer-side compression of constant stretches (see write_value). */
    struct chan_run {
        bool has_last, has_pend;
        double last;    /* the value last written */
        int64_t pend_t; /* a repeat of it, not yet written */
    } runs[JB_MAX_CHANNELS];
    uint64_t staged;      /* rows in sample_recent since the last move */
    int64_t last_move_ns; /* writer: when they were last moved into sample */
    int write_error;
    jb_err werr;
};

static void hist_add(hist *h, double us)
{
    h->n++;
    if (us > h->max_us) h->max_us = us;
    long i = us < 0 ? 0 : (long)(us / h->width_us);
    if (i >= HIST_BUCKETS)
        h->over++;
    else
        h->b[i]++;
}

static double hist_pct(const hist *h, double p)
{
    if (!h->n) return NAN;
    uint64_t want = (uint64_t)ceil(p * (double)h->n), acc = 0;
    if (!want) want = 1;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        acc += h->b[i];
        if (acc >= want) return (i + 0.5) * h->width_us;
    }
    return h->max_us;
}

/* Read all sources under the lock and push one row; mono is the sample time. */
static void take_sample(jb_sampler *s, int64_t mono, bool scheduled)
{
    pthread_mutex_lock(&s->read_lock);
    jb_src_sample_begin(); /* cpu and estimate share one read of /proc/stat */
    jb_meter_read(s->m, mono, s->scratch_v, s->scratch_ok);
    jb_src_sample_end();
    /* The interval statistics are about the schedule: samples taken at run
     * boundaries (sample_now) are not part of it. */
    if (scheduled && s->last_sample_mono)
        hist_add(&s->intervals, (double)(mono - s->last_sample_mono) / 1e3);
    if (scheduled) s->last_sample_mono = mono;
    if (mono - s->last_due >= s->due_ns) {
        s->last_due = mono;
        sem_post(&s->due);
    }
    s->samples++;
    for (int i = 0; i < s->nch; i++)
        if (!s->scratch_ok[i]) s->read_errors[i]++;
    size_t head = atomic_load_explicit(&s->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&s->tail, memory_order_acquire);
    if (head - tail >= s->cap) {
        s->overflows++;
    } else {
        size_t slot = head % s->cap;
        s->row_t[slot] = mono + s->offset_ns;
        memcpy(s->row_v + slot * (size_t)s->nch, s->scratch_v, sizeof(double) * (size_t)s->nch);
        memcpy(s->row_ok + slot * (size_t)s->nch, s->scratch_ok, (size_t)s->nch);
        atomic_store_explicit(&s->head, head + 1, memory_order_release);
    }
    pthread_mutex_unlock(&s->read_lock);
}

/* In-between wake-up: read only the sources that must be polled often. */
static void poll_fast_sources(jb_sampler *s, int64_t mono)
{
    pthread_mutex_lock(&s->read_lock);
    for (int i = 0; i < s->m->nsrc; i++) {
        jb_meter_src *src = &s->m->src[i];
        if (src->max_poll_ns && src->max_poll_ns < s->m->env.interval_ns)
            src->drv->read(src->state, mono, s->scratch_v + src->first, s->scratch_ok + src->first);
    }
    pthread_mutex_unlock(&s->read_lock);
}

static struct timespec to_ts(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL};
    return ts;
}

static void wake_handler(int sig)
{
    (void)sig;
}

static void *sampler_main(void *arg)
{
    jb_sampler *s = arg;
    pthread_setname_np(pthread_self(), "jb-sampler"); /* for top, perf, bench/overhead */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    int64_t next = jb_mono_ns() + s->step_ns;
    long tick = 0;
    while (!atomic_load(&s->stop)) {
        struct timespec ts = to_ts(next);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
               !atomic_load(&s->stop)) {
        }
        if (atomic_load(&s->stop)) break;
        int64_t now = jb_mono_ns();
        tick++;
        if (tick % s->sub == 0) {
            hist_add(&s->jitter, (double)(now - next) / 1e3);
            take_sample(s, now, true);
        } else {
            poll_fast_sources(s, now);
        }
        next += s->step_ns;
        now = jb_mono_ns();
        if (now > next) { /* overslept: skip the deadlines already past */
            int64_t behind = (now - next) / s->step_ns + 1;
            s->missed += (uint64_t)behind;
            next += behind * s->step_ns;
            tick += behind;
        }
    }
    return NULL;
}

static void on_marker(void *ctx, const jb_marker *mk)
{
    jb_sampler *s = ctx;
    jb_store_ins_marker(&s->ins, s->run_id, mk);
}

static void on_bad_marker(void *ctx, int64_t recv_ns, const char *reason, const char *raw,
                          size_t rawlen)
{
    jb_sampler *s = ctx;
    jb_store_ins_bad_marker(&s->ins, s->run_id, recv_ns, reason, raw, rawlen);
}

/* One row into the staging table (sample_recent). */
static void put_row(jb_sampler *s, int c, int64_t t, double v, bool ok)
{
    if (jb_store_ins_stage(&s->ins, s->chan_ids[c], t, v, ok)) s->write_error = 1;
    s->staged++;
}

/* A channel that keeps one value (an idle counter, swap, a process's RSS)
 * is stored as the first and the last sample of the stretch: linear
 * interpolation between them gives the same value at every time in between,
 * so every energy, mean, peak and rate computed from the store is unchanged,
 * while the writer inserts far fewer rows. The held "last" sample is written
 * at each commit, so a crash still loses at most the last second. */
static void write_value(jb_sampler *s, int c, int64_t t, double v, bool ok)
{
    struct chan_run *r = &s->runs[c];
    if (ok && r->has_last && v == r->last) {
        r->pend_t = t;
        r->has_pend = true;
        return;
    }
    if (r->has_pend) put_row(s, c, r->pend_t, r->last, true);
    r->has_pend = false;
    put_row(s, c, t, v, ok);
    r->has_last = ok;
    r->last = v;
}

/* Write the held repeats, so the store ends with the latest sample. */
static void write_pending(jb_sampler *s)
{
    for (int c = 0; c < s->nch; c++) {
        struct chan_run *r = &s->runs[c];
        if (!r->has_pend) continue;
        put_row(s, c, r->pend_t, r->last, true);
        r->has_pend = false;
    }
}

/* Staged rows go into the sample table this often, or sooner when this many
 * are staged (a move touches every channel's last page once, so it is
 * cheaper in batches; the bound keeps one move short at 1 ms intervals). */
#define MOVE_PERIOD_NS 60000000000LL
#define MOVE_ROWS 4096

/* Move everything queued into the store in one transaction; the last flush
 * of a run (final) also moves every staged row into sample. */
static void flush(jb_sampler *s, bool final)
{
    size_t tail = atomic_load_explicit(&s->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&s->head, memory_order_acquire);
    if (jb_store_ins_begin(&s->ins, &s->werr)) {
        s->write_error = 1;
        return;
    }
    for (; tail != head; tail++) {
        size_t slot = tail % s->cap;
        const double *v = s->row_v + slot * (size_t)s->nch;
        const uint8_t *ok = s->row_ok + slot * (size_t)s->nch;
        for (int c = 0; c < s->nch; c++)
            write_value(s, c, s->row_t[slot], v[c], ok[c]);
    }
    write_pending(s);
    atomic_store_explicit(&s->tail, tail, memory_order_release);
    if (s->rec) jb_recorder_drain(s->rec, on_marker, on_bad_marker, s);
    int64_t now = jb_mono_ns();
    if (final || s->staged >= MOVE_ROWS || now - s->last_move_ns >= MOVE_PERIOD_NS) {
        if (jb_store_ins_move(&s->ins, &s->werr)) s->write_error = 1;
        s->staged = 0;
        s->last_move_ns = now;
    }
    if (jb_store_ins_commit(&s->ins, &s->werr)) s->write_error = 1;
}

/* Writer: flush when the sampler says a second is queued, or at the latest
 * WRITER_FALLBACK_NS after the last flush (markers when samples are sparse). */
#define WRITER_FALLBACK_NS 1500000000LL

static void *writer_main(void *arg)
{
    jb_sampler *s = arg;
    pthread_setname_np(pthread_self(), "jb-writer");
    while (!atomic_load(&s->stop)) {
        struct timespec ts = to_ts(jb_mono_ns() + WRITER_FALLBACK_NS);
        while (sem_clockwait(&s->due, CLOCK_MONOTONIC, &ts) < 0 && errno == EINTR) {
        }
        if (atomic_load(&s->stop)) break;
        flush(s, false);
    }
    return NULL;
}

static int alloc_ring(jb_sampler *s)
{
    int64_t per_s = 1000000000LL / s->m->env.interval_ns;
    s->cap = (size_t)(per_s * 8 > 1024 ? per_s * 8 : 1024);
    s->row_t = calloc(s->cap, sizeof *s->row_t);
    s->row_v = calloc(s->cap * (size_t)(s->nch ? s->nch : 1), sizeof *s->row_v);
    s->row_ok = calloc(s->cap * (size_t)(s->nch ? s->nch : 1), 1);
    return s->row_t && s->row_v && s->row_ok ? 0 : -1;
}

static void free_sampler(jb_sampler *s)
{
    if (!s) return;
    jb_store_ins_finalize(&s->ins);
    free(s->row_t);
    free(s->row_v);
    free(s->row_ok);
    free(s->chan_ids);
    pthread_mutex_destroy(&s->read_lock);
    sem_destroy(&s->due);
    free(s);
}

static int register_channels(jb_sampler *s, jb_err *err)
{
    if (jb_store_begin(s->st, err)) return -1;
    for (int i = 0; i < s->m->nsrc; i++) {
        jb_meter_src *src = &s->m->src[i];
        for (int c = src->first; c < src->first + src->n; c++) {
            s->chan_ids[c] =
                jb_store_add_channel(s->st, s->run_id, src->drv->name, &s->m->ch.ch[c], err);
            if (s->chan_ids[c] < 0) {
                jb_store_exec(s->st, "ROLLBACK", NULL);
                return -1;
            }
        }
    }
    return jb_store_commit(s->st, err);
}

static void plan_steps(jb_sampler *s)
{
    int64_t interval = s->m->env.interval_ns, min_poll = 0;
    for (int i = 0; i < s->m->nsrc; i++) {
        int64_t p = s->m->src[i].max_poll_ns;
        if (p > 0 && (!min_poll || p < min_poll)) min_poll = p;
    }
    s->sub = 1;
    if (min_poll && min_poll < interval) s->sub = (int)((interval + min_poll - 1) / min_poll);
    s->step_ns = interval / s->sub;
}

int jb_sampler_start(jb_sampler **out, jb_meter *m, jb_store *st, int64_t run_id,
                     struct jb_recorder *rec, jb_err *err)
{
    jb_sampler *s = calloc(1, sizeof *s);
    if (!s) return jb_errf(err, "out of memory");
    s->m = m;
    s->st = st;
    s->rec = rec;
    s->run_id = run_id;
    s->nch = m->ch.n;
    s->offset_ns = jb_clock_offset_ns();
    pthread_mutex_init(&s->read_lock, NULL);
    sem_init(&s->due, 0, 0);
    s->chan_ids = calloc((size_t)(s->nch ? s->nch : 1), sizeof *s->chan_ids);
    double iv_us = (double)m->env.interval_ns / 1e3;
    s->intervals.width_us = iv_us * 4 / HIST_BUCKETS;
    s->jitter.width_us = 1.0;
    if (!s->chan_ids || alloc_ring(s)) {
        free_sampler(s);
        return jb_errf(err, "out of memory for the sample ring");
    }
    plan_steps(s);
    /* Post after the sample that completes about a second (the 10th at 100 ms,
     * every sample at intervals of a second or more). */
    s->due_ns = 1000000000LL - m->env.interval_ns / 2;
    if (s->due_ns < 0) s->due_ns = 0;
    s->last_due = jb_mono_ns();
    s->last_move_ns = s->last_due;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = wake_handler; /* no SA_RESTART: interrupts clock_nanosleep */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGURG, &sa, NULL);
    if (register_channels(s, err) || jb_store_ins_prepare(st, &s->ins, err)) {
        free_sampler(s);
        return -1;
    }
    take_sample(s, jb_mono_ns(), false);
    if (pthread_create(&s->writer_thr, NULL, writer_main, s)) {
        free_sampler(s);
        return jb_errf(err, "cannot start the writer thread");
    }
    if (pthread_create(&s->sampler_thr, NULL, sampler_main, s)) {
        atomic_store(&s->stop, 1);
        sem_post(&s->due);
        pthread_join(s->writer_thr, NULL);
        free_sampler(s);
        return jb_errf(err, "cannot start the sampling thread");
    }
    *out = s;
    return 0;
}

void jb_sampler_set_target(jb_sampler *s, pid_t pid)
{
    pthread_mutex_lock(&s->read_lock);
    jb_meter_set_target(s->m, pid);
    pthread_mutex_unlock(&s->read_lock);
}

void jb_sampler_sample_now(jb_sampler *s)
{
    take_sample(s, jb_mono_ns(), false);
}

int jb_sampler_stop(jb_sampler *s, jb_quality *q, jb_err *err)
{
    /* The closing sample first, right after the run ended; then wake the
     * sampling thread out of its sleep (SIGURG, no-op handler) and join it. */
    take_sample(s, jb_mono_ns(), false);
    atomic_store(&s->stop, 1);
    pthread_kill(s->sampler_thr, SIGURG);
    pthread_join(s->sampler_thr, NULL);
    sem_post(&s->due);
    pthread_join(s->writer_thr, NULL);
    flush(s, true);
    if (q) {
        memset(q, 0, sizeof *q);
        q->interval_ns = s->m->env.interval_ns;
        q->samples = s->samples;
        q->missed_deadlines = s->missed;
        q->ring_overflows = s->overflows;
        q->p50_ms = hist_pct(&s->intervals, 0.50) / 1e3;
        q->p95_ms = hist_pct(&s->intervals, 0.95) / 1e3;
        q->p99_ms = hist_pct(&s->intervals, 0.99) / 1e3;
        q->max_ms = s->intervals.n ? s->intervals.max_us / 1e3 : NAN;
        q->jitter_p50_us = hist_pct(&s->jitter, 0.50);
        q->jitter_p99_us = hist_pct(&s->jitter, 0.99);
        q->jitter_max_us = s->jitter.n ? s->jitter.max_us : NAN;
        memcpy(q->read_errors, s->read_errors, sizeof s->read_errors);
        if (s->rec) jb_recorder_counts(s->rec, &q->markers, &q->bad_markers);
    }
    /* per-channel read errors into the channel table */
    for (int c = 0; c < s->nch; c++)
        if (s->read_errors[c]) {
            char sql[128];
            snprintf(sql, sizeof sql, "UPDATE channel SET read_errors=%llu WHERE id=%lld",
                     (unsigned long long)s->read_errors[c], (long long)s->chan_ids[c]);
            jb_store_exec(s->st, sql, NULL);
        }
    int rc = 0;
    if (s->write_error) rc = jb_errf(err, "writing samples failed: %s", s->werr.msg);
    free_sampler(s);
    return rc;
}

/* A finite number as JSON, or null (too few samples to know). */
static void json_num(jb_buf *b, const char *key, double v, const char *fmt)
{
    jb_buf_printf(b, ",\"%s\":", key);
    if (isfinite(v))
        jb_buf_printf(b, fmt, v);
    else
        jb_buf_printf(b, "null");
}

char *jb_quality_json(const jb_quality *q, const jb_meter *m)
{
    jb_buf b = {0};
    jb_buf_printf(&b,
                  "{\"interval_ms\":%.3f,\"samples\":%llu,\"missed_deadlines\":%llu,"
                  "\"ring_overflows\":%llu,\"markers\":%llu,\"bad_markers\":%llu",
                  (double)q->interval_ns / 1e6, (unsigned long long)q->samples,
                  (unsigned long long)q->missed_deadlines, (unsigned long long)q->ring_overflows,
                  (unsigned long long)q->markers, (unsigned long long)q->bad_markers);
    json_num(&b, "interval_p50_ms", q->p50_ms, "%.4f");
    json_num(&b, "interval_p95_ms", q->p95_ms, "%.4f");
    json_num(&b, "interval_p99_ms", q->p99_ms, "%.4f");
    json_num(&b, "interval_max_ms", q->max_ms, "%.4f");
    json_num(&b, "jitter_p50_us", q->jitter_p50_us, "%.1f");
    json_num(&b, "jitter_p99_us", q->jitter_p99_us, "%.1f");
    json_num(&b, "jitter_max_us", q->jitter_max_us, "%.1f");
    jb_buf_printf(&b, ",\"read_errors\":{");
    int first = 1;
    for (int c = 0; c < m->ch.n; c++)
        if (q->read_errors[c]) {
            jb_buf_printf(&b, "%s\"%s\":%llu", first ? "" : ",", m->ch.ch[c].name,
                          (unsigned long long)q->read_errors[c]);
            first = 0;
        }
    jb_buf_printf(&b, "}}");
    return b.data;
}

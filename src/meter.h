/*
 * meter.h — a set of opened sources and the sampling machinery around them.
 *
 * jb_meter: the sources chosen for a measurement (by name, or "auto": every
 * default usage source plus every working power source, falling back to the
 * estimator only when no power source works), opened once, with one flat
 * channel list.
 *
 * jb_sampler: for one run, a sampling thread on CLOCK_MONOTONIC absolute
 * deadlines that only reads sources into a ring buffer, and a writer thread
 * that commits rows (and markers from a recorder) to the store about once a
 * second. Times are stored as Unix ns via one offset taken at start.
 */
#ifndef JB_METER_H
#define JB_METER_H

#include "source.h"
#include "store.h"

typedef struct jb_meter_src {
    const jb_source_driver *drv;
    void *state;
    int first, n;        /* channel range in the meter's list */
    int64_t max_poll_ns; /* 0 = no constraint */
} jb_meter_src;

typedef struct jb_meter {
    jb_source_env env;
    jb_meter_src src[32];
    int nsrc;
    jb_channel_list ch;
    char skipped[2048]; /* "name: reason" lines for sources auto skipped */
} jb_meter;

typedef struct jb_meter_opts {
    const char *root;
    int64_t interval_ns;
    const char *sources; /* comma list, "auto", or NULL = auto */
    const jb_source_opt *opts;
    int nopts;
} jb_meter_opts;

int jb_meter_open(jb_meter *m, const jb_meter_opts *o, jb_err *err);
void jb_meter_close(jb_meter *m);
void jb_meter_set_target(jb_meter *m, pid_t pid);
/* Read every source once into values/ok (size m->ch.n). */
void jb_meter_read(jb_meter *m, int64_t now_ns, double *values, uint8_t *ok);
/* Host info lines from the sources (GPU names...). */
void jb_meter_host_info(jb_meter *m, jb_buf *out);

typedef struct jb_sampler jb_sampler;
struct jb_recorder;

/* Sampling quality of a run, also stored as JSON in run.quality. */
typedef struct jb_quality {
    int64_t interval_ns;
    uint64_t samples, missed_deadlines, ring_overflows;
    double p50_ms, p95_ms, p99_ms, max_ms;              /* actual interval between samples */
    double jitter_p50_us, jitter_p99_us, jitter_max_us; /* wake-up lateness */
    uint64_t read_errors[JB_MAX_CHANNELS];
    uint64_t markers, bad_markers;
} jb_quality;

/* Register the meter's channels for run_id and start sampling + writing.
 * rec may be NULL (no markers). */
int jb_sampler_start(jb_sampler **out, jb_meter *m, jb_store *st, int64_t run_id,
                     struct jb_recorder *rec, jb_err *err);
/* Tell the sources the workload's pid (under the sampler's read lock). */
void jb_sampler_set_target(jb_sampler *s, pid_t pid);
/* Take one sample now, outside the schedule (run boundaries). */
void jb_sampler_sample_now(jb_sampler *s);
/* Stop both threads, commit everything, fill q. */
int jb_sampler_stop(jb_sampler *s, jb_quality *q, jb_err *err);
/* JSON text of q for run.quality (caller frees). */
char *jb_quality_json(const jb_quality *q, const jb_meter *m);

#endif

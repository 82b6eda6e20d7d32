/*
 * analysis.h — turning stored samples into numbers: the energy of a channel
 * over any window, and the summary of one run (per channel, headline total,
 * hardware usage). Reads only the store, so anything measured or imported can
 * be re-analysed. Definitions follow shared/DESIGN.md:
 *
 *  - energy_counter: E[a,b] = C(b) − C(a), C linearly interpolated between
 *    the samples around a and b (never a sum of sampled powers);
 *  - power: trapezoid integral over [a,b], the partial segments at both ends
 *    interpolated;
 *  - gaps (NULL samples) are skipped: the neighbours are interpolated across
 *    them, and the gap time is reported.
 */
#ifndef JB_ANALYSIS_H
#define JB_ANALYSIS_H

#include "source.h"
#include "store.h"

typedef struct jb_series {
    int64_t *t;
    double *v;
    size_t n;
    int64_t gap_ns; /* total time between samples that border a gap */
    size_t gaps;    /* NULL samples */
} jb_series;

/* Load the non-NULL samples of a channel in time order. */
int jb_series_load(jb_store *st, int64_t channel_id, jb_series *s, jb_err *err);
void jb_series_free(jb_series *s);

/* Value at t by linear interpolation (clamped to the ends). */
double jb_series_at(const jb_series *s, int64_t t);
/* Energy in joules over [a,b] for an energy_counter or power series. Sets
 * *clamped when [a,b] reaches outside the samples. NAN if < 2 samples. */
double jb_series_energy(const jb_series *s, jb_channel_kind kind, int64_t a, int64_t b,
                        bool *clamped);
/* Time-weighted mean of a gauge (or power) over [a,b]. */
double jb_series_mean(const jb_series *s, int64_t a, int64_t b);
/* Max over samples inside [a,b] (gauge/power) or max rate between samples
 * (counter kinds: ΔC/Δt). */
double jb_series_peak(const jb_series *s, jb_channel_kind kind, int64_t a, int64_t b);

typedef struct jb_chan_summary {
    int64_t id;
    char source[32], name[64], unit[16];
    jb_channel_kind kind;
    bool estimated;
    jb_role role;
    bool headline;     /* part of the headline total */
    double energy_j;   /* energy kinds */
    double mean, peak; /* W for energy kinds; the unit for gauges; rate for counters */
    double delta;      /* counters: increase over the run */
    int64_t read_errors;
    size_t samples;
    double min_window_s; /* meter update period from channel meta (0 = none) */
} jb_chan_summary;

typedef struct jb_run_summary {
    int64_t run_id, experiment_id;
    char variant[64], phase[16], status[16];
    int rep;
    int64_t start_ns, end_ns;
    double duration_s;
    int exit_code;
    int nch;
    jb_chan_summary ch[JB_MAX_CHANNELS];
    /* headline: the total energy, never summing overlapping channels */
    double headline_j;
    bool headline_estimated, has_headline;
    char headline_desc[256]; /* "rapl/package-0 + rapl/dram-0" */
    /* The longest update period among the headline meters (channel meta
     * "min_window_ms", e.g. NVML's energy counter): a window shorter than this
     * cannot be resolved and is flagged. 0 when none is declared. */
    double min_window_s;
    /* usage */
    double cpu_pct, cpu_user_pct, cpu_system_pct; /* system, % of all cores */
    double proc_cpu_s, proc_cpu_pct;              /* tree, % of all cores */
    double proc_cores;                            /* tree CPU seconds per second */
    double rss_peak_b, rss_mean_b;
    double mem_used_mean_b;
    double disk_read_b, disk_written_b, net_rx_b, net_tx_b, proc_read_b, proc_written_b;
    int cores;
    char quality_json[2048];
} jb_run_summary;

int jb_run_summarize(jb_store *st, int64_t run_id, jb_run_summary *rs, jb_err *err);

/* Pick the headline channels of a run (sets ch[i].headline and the totals).
 * Rule: one wall meter beats everything; else the "cpu" family (one RAPL
 * interface) plus the "gpu" family, each as the sum of its role-total
 * channels; else hwmon; else the estimate (flagged). Parts (core in package)
 * are never added. */
void jb_pick_headline(jb_run_summary *rs);

/* The family of a source name ("cpu", "gpu", "wall", "hwmon", "estimate"). */
const char *jb_source_family(const char *source);

#endif

/*
 * gen.c — builds the store for the report benchmark (bench/report/run.sh):
 * 30 runs (10 baseline, 10 × variant "cnn", 10 × variant "mobilenet") of 1 h
 * at 10 Hz with 20 channels each — 21.6 M samples — through jb_store_open (the
 * real schema), one transaction and one prepared statement.
 *
 * Channels: rapl/package-0, rapl/dram-0 (energy counters, role total),
 * rapl/core-0 (part), nvml/0/energy (GPU energy counter), and 16 usage
 * channels (cpu, memory, disk, net, process). Power follows a smooth
 * deterministic profile plus SplitMix64 noise, so every number is repeatable.
 *
 * usage: gen OUT.db [RUNS] [SECONDS] [HZ]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

static uint64_t rng = 12345;
static double urand(void)
{
    uint64_t z = (rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

typedef struct chan {
    const char *source, *name, *unit;
    jb_channel_kind kind;
    jb_role role;
} chan;

static const chan CH[20] = {
    {"rapl", "rapl/package-0", "J", JB_KIND_ENERGY_COUNTER, JB_ROLE_TOTAL},
    {"rapl", "rapl/dram-0", "J", JB_KIND_ENERGY_COUNTER, JB_ROLE_TOTAL},
    {"rapl", "rapl/core-0", "J", JB_KIND_ENERGY_COUNTER, JB_ROLE_PART},
    {"nvml", "nvml/0/energy", "J", JB_KIND_ENERGY_COUNTER, JB_ROLE_TOTAL},
    {"cpu", "cpu/total", "%", JB_KIND_GAUGE, JB_ROLE_NONE},
    {"cpu", "cpu/user", "%", JB_KIND_GAUGE, JB_ROLE_NONE},
    {"cpu", "cpu/system", "%", JB_KIND_GAUGE, JB_ROLE_NONE},
    {"cpu", "cpu/iowait", "%", JB_KIND_GAUGE, JB_ROLE_NONE},
    {"memory", "memory/used", "B", JB_KIND_GAUGE, JB_ROLE_NONE},
    {"memory", "memory/available", "B", JB_KIND_GAUGE, JB_ROLE_NONE},
    {"memory", "memory/swap_used", "B", JB_KIND_GAUGE, JB_ROLE_NONE},
    {"disk", "disk/read", "B", JB_KIND_COUNTER, JB_ROLE_NONE},
    {"disk", "disk/written", "B", JB_KIND_COUNTER, JB_ROLE_NONE},
    {"net", "net/received", "B", JB_KIND_COUNTER, JB_ROLE_NONE},
    {"net", "net/sent", "B", JB_KIND_COUNTER, JB_ROLE_NONE},
    {"process", "process/cpu_time", "s", JB_KIND_COUNTER, JB_ROLE_NONE},
    {"process", "process/rss", "B", JB_KIND_GAUGE, JB_ROLE_NONE},
    {"process", "process/read", "B", JB_KIND_COUNTER, JB_ROLE_NONE},
    {"process", "process/written", "B", JB_KIND_COUNTER, JB_ROLE_NONE},
    {"nvml", "nvml/0/utilization", "%", JB_KIND_GAUGE, JB_ROLE_NONE},
};

static int die(const jb_err *err)
{
    fprintf(stderr, "gen: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gen OUT.db [RUNS] [SECONDS] [HZ]\n");
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 30;
    int secs = argc > 3 ? atoi(argv[3]) : 3600;
    int hz = argc > 4 ? atoi(argv[4]) : 10;
    unlink(argv[1]);
    jb_store st;
    jb_err err;
    if (jb_store_open(&st, argv[1], false, &err)) return die(&err);
    if (jb_store_exec(&st,
                      "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; "
                      "PRAGMA cache_size=-200000;",
                      &err))
        return die(&err);
    if (jb_store_begin(&st, &err)) return die(&err);
    int64_t host = jb_store_add_host(&st, "/", "", &err);
    int64_t exp =
        jb_store_add_experiment(&st, host, "report-bench", NULL, NULL, "experiment", &err);
    if (host < 0 || exp < 0) return die(&err);
    jb_store_ins ins;
    if (jb_store_ins_prepare(&st, &ins, &err)) return die(&err);
    const int64_t dt = 1000000000LL / hz;
    int64_t t0 = 1700000000LL * 1000000000LL;
    int reps[3] = {0, 0, 0};
    for (int r = 0; r < runs; r++) {
        int g = r % 3; /* interleaved: baseline, cnn, mobilenet */
        static const char *variant[3] = {"", "cnn", "mobilenet"};
        static const char *phase[3] = {"baseline", "scenario", "scenario"};
        static const double load[3] = {0.02, 0.85, 0.45};
        jb_run_info ri = {.experiment_id = exp,
                          .variant = variant[g],
                          .phase = phase[g],
                          .rep = ++reps[g],
                          .seq = r + 1,
                          .command_json = "[]",
                          .interval_ns = dt};
        int64_t start = t0 + (int64_t)r * (secs + 60) * 1000000000LL;
        int64_t end = start + (int64_t)secs * 1000000000LL;
        int64_t id = jb_store_add_run(&st, &ri, start, &err);
        if (id < 0) return die(&err);
        int64_t cid[20];
        for (int c = 0; c < 20; c++) {
            jb_channel_def d;
            memset(&d, 0, sizeof d);
            snprintf(d.name, sizeof d.name, "%s", CH[c].name);
            snprintf(d.unit, sizeof d.unit, "%s", CH[c].unit);
            d.kind = CH[c].kind;
            d.role = CH[c].role;
            if ((cid[c] = jb_store_add_channel(&st, id, CH[c].source, &d, &err)) < 0)
                return die(&err);
        }
        double acc[20] = {0};
        for (int64_t t = start; t <= end; t += dt) {
            double x = (double)(t - start) / 1e9;
            double u = load[g] * (1 + 0.1 * sin(x / 60)) + 0.02 * urand();
            double p_pkg = 10 + 55 * u + urand(), p_dram = 2 + 3 * u + 0.2 * urand();
            double p_gpu = 20 + 180 * u * (g == 1 ? 1 : 0.6) + 2 * urand();
            double step = 1.0 / hz;
            double v[20];
            acc[0] += p_pkg * step, acc[1] += p_dram * step, acc[2] += 0.7 * p_pkg * step;
            acc[3] += p_gpu * step;
            v[0] = acc[0], v[1] = acc[1], v[2] = acc[2], v[3] = acc[3];
            v[4] = 100 * u, v[5] = 85 * u, v[6] = 15 * u, v[7] = urand();
            v[8] = 4e9 + 6e9 * u, v[9] = 16e9 - v[8], v[10] = 1e6;
            acc[11] += 5e7 * u * step, acc[12] += 1e7 * u * step;
            acc[13] += 2e6 * u * step, acc[14] += 1e5 * step;
            acc[15] += 2 * u * step, acc[17] += 4e7 * u * step, acc[18] += 9e6 * u * step;
            for (int c = 11; c <= 18; c++)
                v[c] = acc[c];
            v[16] = 2e9 * u + 1e8, v[19] = 90 * u;
            for (int c = 0; c < 20; c++)
                if (jb_store_ins_sample(&ins, cid[c], t, v[c], true)) {
                    fprintf(stderr, "gen: insert: %s\n", sqlite3_errmsg(st.db));
                    return 1;
                }
        }
        if (jb_store_finish_run(&st, id, end, 0, "ok", NULL, &err)) return die(&err);
    }
    jb_store_ins_finalize(&ins);
    if (jb_store_exec(&st, "UPDATE experiment SET status='done'", &err) ||
        jb_store_commit(&st, &err) || jb_store_exec(&st, "PRAGMA journal_mode=WAL", &err))
        return die(&err);
    jb_store_close(&st);
    return 0;
}

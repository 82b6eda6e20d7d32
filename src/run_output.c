/*
 * run_output.c — text, JSON and CSV renderings of one run's summary. Every
 * energy figure says whether it was measured or estimated.
 */
#include "run_output.h"

#include <math.h>
#include <string.h>

static const char *mark(bool estimated)
{
    return estimated ? "ESTIMATED" : "measured";
}

static bool energy_kind(jb_channel_kind k)
{
    return k == JB_KIND_ENERGY_COUNTER || k == JB_KIND_POWER;
}

static void print_energy_rows(FILE *f, const jb_run_summary *rs)
{
    fprintf(f, "  %-28s %12s %10s %9s %9s  %s\n", "energy", "J", "Wh", "mean W", "peak W", "");
    for (int i = 0; i < rs->nch; i++) {
        const jb_chan_summary *c = &rs->ch[i];
        if (!energy_kind(c->kind)) continue;
        fprintf(f, "  %-28s %12.3f %10.6f %9.3f %9.3f  %s%s%s\n", c->name, c->energy_j,
                c->energy_j / 3600.0, c->mean, c->peak, mark(c->estimated),
                c->role == JB_ROLE_PART ? ", part of a total" : "",
                c->headline ? ", headline" : "");
    }
    if (rs->has_headline)
        fprintf(f, "  %-28s %12.3f %10.6f %9.3f %9s  %s (%s)\n", "TOTAL (headline)", rs->headline_j,
                rs->headline_j / 3600.0, rs->duration_s > 0 ? rs->headline_j / rs->duration_s : NAN,
                "", mark(rs->headline_estimated), rs->headline_desc);
    else
        fprintf(f, "  no power channel: no energy figure for this run\n");
}

void jb_run_print_text(FILE *f, const jb_run_summary *rs, const char *command)
{
    char a[32], b[32];
    fprintf(f, "\n joulebench: '%s' — %s, exit %d, %.3f s\n\n", command ? command : "", rs->status,
            rs->exit_code, rs->duration_s);
    print_energy_rows(f, rs);
    fprintf(f, "\n  CPU (system)        %6.1f %% of %d cores (user %.1f %%, system %.1f %%)\n",
            rs->cpu_pct, rs->cores, rs->cpu_user_pct, rs->cpu_system_pct);
    if (isfinite(rs->proc_cores) && rs->proc_cpu_s > 0)
        fprintf(f, "  CPU (process tree)  %6.1f %% of %d cores (%.3f CPU s, %.2f cores)\n",
                rs->proc_cpu_pct, rs->cores, rs->proc_cpu_s, rs->proc_cores);
    jb_fmt_bytes(a, sizeof a, rs->rss_peak_b);
    jb_fmt_bytes(b, sizeof b, rs->rss_mean_b);
    fprintf(f, "  RSS (process tree)  peak %s, mean %s\n", a, b);
    jb_fmt_bytes(a, sizeof a, rs->proc_read_b);
    jb_fmt_bytes(b, sizeof b, rs->proc_written_b);
    fprintf(f, "  I/O (process tree)  read %s, written %s\n", a, b);
    jb_fmt_bytes(a, sizeof a, rs->disk_read_b);
    jb_fmt_bytes(b, sizeof b, rs->disk_written_b);
    fprintf(f, "  disk (system)       read %s, written %s\n", a, b);
    jb_fmt_bytes(a, sizeof a, rs->net_rx_b);
    jb_fmt_bytes(b, sizeof b, rs->net_tx_b);
    fprintf(f, "  network (system)    received %s, sent %s\n", a, b);
    json_object *q = json_tokener_parse(rs->quality_json);
    if (q) {
        json_object *v;
        double iv = 0, p50 = 0, p95 = 0, mx = 0;
        long long n = 0, missed = 0;
        if (json_object_object_get_ex(q, "interval_ms", &v)) iv = json_object_get_double(v);
        if (json_object_object_get_ex(q, "interval_p50_ms", &v)) p50 = json_object_get_double(v);
        if (json_object_object_get_ex(q, "interval_p95_ms", &v)) p95 = json_object_get_double(v);
        if (json_object_object_get_ex(q, "interval_max_ms", &v)) mx = json_object_get_double(v);
        if (json_object_object_get_ex(q, "samples", &v)) n = json_object_get_int64(v);
        if (json_object_object_get_ex(q, "missed_deadlines", &v)) missed = json_object_get_int64(v);
        if (json_object_object_get_ex(q, "interval_p50_ms", &v) &&
            !json_object_is_type(v, json_type_null))
            fprintf(f,
                    "  sampling            %lld samples at %.3g ms (actual p50 %.3f, p95 %.3f, "
                    "max %.3f ms), %lld missed deadlines\n",
                    n, iv, p50, p95, mx, missed);
        else
            fprintf(f,
                    "  sampling            %lld samples at %.3g ms (run too short for interval "
                    "statistics)\n",
                    n, iv);
        json_object_put(q);
    }
    fputc('\n', f);
}

int jb_run_print_quality_warnings(FILE *f, const jb_run_summary *rs)
{
    int n = 0;
    json_object *q = json_tokener_parse(rs->quality_json), *v;
    if (!q) return 0;
    double iv = 0, p95 = 0;
    if (json_object_object_get_ex(q, "interval_ms", &v)) iv = json_object_get_double(v);
    if (json_object_object_get_ex(q, "interval_p95_ms", &v)) p95 = json_object_get_double(v);
    if (iv > 0 && p95 > 0 && fabs(p95 - iv) > 0.2 * iv) {
        fprintf(f,
                "joulebench: warning: sampling interval p95 %.3f ms is outside ±20 %% of "
                "the requested %.3g ms; use a longer interval or a quieter machine\n",
                p95, iv);
        n++;
    }
    if (json_object_object_get_ex(q, "read_errors", &v) && json_object_object_length(v) > 0) {
        fprintf(f, "joulebench: warning: read errors (gaps recorded): %s\n",
                json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        n++;
    }
    json_object_put(q);
    if (rs->min_window_s > 0 && rs->duration_s < rs->min_window_s) {
        fprintf(f,
                "joulebench: warning: the run (%.3f s) is shorter than the update period "
                "of the energy meter (%.0f ms): its energy is not resolved; measure longer "
                "runs\n",
                rs->duration_s, rs->min_window_s * 1e3);
        n++;
    }
    for (int i = 0; i < rs->nch; i++)
        if (rs->ch[i].headline && rs->ch[i].estimated) {
            fprintf(f, "joulebench: note: energy is ESTIMATED from CPU utilisation (no power "
                       "meter readable here; see 'joulebench sources')\n");
            n++;
            break;
        }
    return n;
}

static json_object *num(double v)
{
    return isfinite(v) ? json_object_new_double(v) : json_object_new_null();
}

json_object *jb_run_json(const jb_run_summary *rs)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "run_id", json_object_new_int64(rs->run_id));
    json_object_object_add(o, "experiment_id", json_object_new_int64(rs->experiment_id));
    json_object_object_add(o, "variant", json_object_new_string(rs->variant));
    json_object_object_add(o, "phase", json_object_new_string(rs->phase));
    json_object_object_add(o, "rep", json_object_new_int(rs->rep));
    json_object_object_add(o, "status", json_object_new_string(rs->status));
    json_object_object_add(o, "exit_code", json_object_new_int(rs->exit_code));
    json_object_object_add(o, "start_ns", json_object_new_int64(rs->start_ns));
    json_object_object_add(o, "end_ns", json_object_new_int64(rs->end_ns));
    json_object_object_add(o, "duration_s", num(rs->duration_s));
    json_object *h = json_object_new_object();
    json_object_object_add(h, "energy_j", rs->has_headline ? num(rs->headline_j) : NULL);
    json_object_object_add(h, "energy_wh", rs->has_headline ? num(rs->headline_j / 3600.0) : NULL);
    json_object_object_add(
        h, "mean_power_w",
        rs->has_headline && rs->duration_s > 0 ? num(rs->headline_j / rs->duration_s) : NULL);
    json_object_object_add(h, "estimated", json_object_new_boolean(rs->headline_estimated));
    json_object_object_add(h, "channels", json_object_new_string(rs->headline_desc));
    json_object_object_add(o, "headline", h);
    json_object *chs = json_object_new_array();
    for (int i = 0; i < rs->nch; i++) {
        const jb_chan_summary *c = &rs->ch[i];
        json_object *co = json_object_new_object();
        json_object_object_add(co, "name", json_object_new_string(c->name));
        json_object_object_add(co, "source", json_object_new_string(c->source));
        json_object_object_add(co, "unit", json_object_new_string(c->unit));
        json_object_object_add(co, "kind", json_object_new_string(jb_kind_name(c->kind)));
        json_object_object_add(co, "estimated", json_object_new_boolean(c->estimated));
        json_object_object_add(co, "headline", json_object_new_boolean(c->headline));
        if (energy_kind(c->kind)) {
            json_object_object_add(co, "energy_j", num(c->energy_j));
            json_object_object_add(co, "energy_wh", num(c->energy_j / 3600.0));
            json_object_object_add(co, "mean_power_w", num(c->mean));
            json_object_object_add(co, "peak_power_w", num(c->peak));
        } else if (c->kind == JB_KIND_COUNTER) {
            json_object_object_add(co, "delta", num(c->delta));
            json_object_object_add(co, "rate_per_s", num(c->mean));
        } else {
            json_object_object_add(co, "mean", num(c->mean));
            json_object_object_add(co, "peak", num(c->peak));
        }
        json_object_object_add(co, "samples", json_object_new_int64((int64_t)c->samples));
        json_object_object_add(co, "read_errors", json_object_new_int64(c->read_errors));
        json_object_array_add(chs, co);
    }
    json_object_object_add(o, "channels", chs);
    json_object *u = json_object_new_object();
    json_object_object_add(u, "cores", json_object_new_int(rs->cores));
    json_object_object_add(u, "cpu_pct", num(rs->cpu_pct));
    json_object_object_add(u, "cpu_user_pct", num(rs->cpu_user_pct));
    json_object_object_add(u, "cpu_system_pct", num(rs->cpu_system_pct));
    json_object_object_add(u, "process_cpu_s", num(rs->proc_cpu_s));
    json_object_object_add(u, "process_cpu_pct", num(rs->proc_cpu_pct));
    json_object_object_add(u, "process_rss_peak_bytes", num(rs->rss_peak_b));
    json_object_object_add(u, "process_rss_mean_bytes", num(rs->rss_mean_b));
    json_object_object_add(u, "process_read_bytes", num(rs->proc_read_b));
    json_object_object_add(u, "process_written_bytes", num(rs->proc_written_b));
    json_object_object_add(u, "memory_used_mean_bytes", num(rs->mem_used_mean_b));
    json_object_object_add(u, "disk_read_bytes", num(rs->disk_read_b));
    json_object_object_add(u, "disk_written_bytes", num(rs->disk_written_b));
    json_object_object_add(u, "net_received_bytes", num(rs->net_rx_b));
    json_object_object_add(u, "net_sent_bytes", num(rs->net_tx_b));
    json_object_object_add(o, "usage", u);
    json_object *q = json_tokener_parse(rs->quality_json);
    json_object_object_add(o, "sampling", q ? q : json_object_new_object());
    return o;
}

void jb_run_print_csv(FILE *f, const jb_run_summary *rs)
{
    fprintf(f, "key,value,unit,estimated\n");
    fprintf(f, "duration,%.9g,s,0\n", rs->duration_s);
    fprintf(f, "exit_code,%d,,0\n", rs->exit_code);
    if (rs->has_headline)
        fprintf(f, "energy.total,%.9g,J,%d\n", rs->headline_j, rs->headline_estimated);
    for (int i = 0; i < rs->nch; i++) {
        const jb_chan_summary *c = &rs->ch[i];
        if (energy_kind(c->kind)) {
            fprintf(f, "energy.%s,%.9g,J,%d\n", c->name, c->energy_j, c->estimated);
            fprintf(f, "mean_power.%s,%.9g,W,%d\n", c->name, c->mean, c->estimated);
            fprintf(f, "peak_power.%s,%.9g,W,%d\n", c->name, c->peak, c->estimated);
        } else if (c->kind == JB_KIND_COUNTER) {
            fprintf(f, "delta.%s,%.9g,%s,0\n", c->name, c->delta, c->unit);
        } else {
            fprintf(f, "mean.%s,%.9g,%s,0\n", c->name, c->mean, c->unit);
            fprintf(f, "peak.%s,%.9g,%s,0\n", c->name, c->peak, c->unit);
        }
    }
    fprintf(f, "cpu.system,%.6g,%%,0\n", rs->cpu_pct);
    fprintf(f, "cpu.process_tree,%.6g,%%,0\n", rs->proc_cpu_pct);
}

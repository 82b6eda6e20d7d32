/*
 * report_json.c — `joulebench report --json`: the whole evaluation (evaluate.h)
 * as one JSON document for pipelines. Keys are stable (docs/report.md);
 * numbers that are undefined (NaN) are null.
 */
#include <json-c/json.h>
#include <math.h>

#include "evaluate.h"

static json_object *num(double v)
{
    return isfinite(v) ? json_object_new_double(v) : json_object_new_null();
}

static json_object *str(const char *s)
{
    return json_object_new_string(s);
}

#define ADD(o, k, v) json_object_object_add((o), (k), (v))

static json_object *desc_json(const jb_desc *d)
{
    json_object *o = json_object_new_object();
    ADD(o, "n", json_object_new_int64((int64_t)d->n));
    ADD(o, "mean", num(d->mean));
    ADD(o, "sd", num(d->sd));
    ADD(o, "se", num(d->se));
    ADD(o, "ci_lo", num(d->ci_lo));
    ADD(o, "ci_hi", num(d->ci_hi));
    ADD(o, "median", num(d->median));
    ADD(o, "min", num(d->min));
    ADD(o, "max", num(d->max));
    ADD(o, "range", num(d->range));
    ADD(o, "q1", num(d->q1));
    ADD(o, "q3", num(d->q3));
    ADD(o, "iqr", num(d->iqr));
    ADD(o, "cv", num(d->cv));
    ADD(o, "shapiro_w", num(d->sw_w));
    ADD(o, "shapiro_p", num(d->sw_p));
    ADD(o, "outliers", json_object_new_int64((int64_t)d->n_outliers));
    return o;
}

static json_object *estimate_json(const jb_estimate *e)
{
    json_object *o = json_object_new_object();
    ADD(o, "value", num(e->value));
    ADD(o, "se", num(e->se));
    ADD(o, "df", num(e->df));
    ADD(o, "ci_lo", num(e->ci_lo));
    ADD(o, "ci_hi", num(e->ci_hi));
    return o;
}

static json_object *run_json(const jb_eval *ev, const jb_eval_run *r)
{
    json_object *o = json_object_new_object();
    ADD(o, "id", json_object_new_int64(r->id));
    ADD(o, "variant", str(r->variant));
    ADD(o, "phase", str(r->phase));
    ADD(o, "rep", json_object_new_int(r->rep));
    ADD(o, "status", str(r->status));
    ADD(o, "exit_code", json_object_new_int(r->exit_code));
    ADD(o, "duration_s", num(r->duration_s));
    ADD(o, "energy_j", num(r->energy_j));
    ADD(o, "energy_wh", num(r->energy_j / 3600));
    ADD(o, "estimated", json_object_new_boolean(r->estimated));
    ADD(o, "headline", str(r->headline));
    ADD(o, "mean_power_w", num(r->mean_power_w));
    ADD(o, "sie_power_j", num(r->sie_power_j));
    ADD(o, "sie_power_se_j", num(r->sie_power_se));
    ADD(o, "sie_oscar_j", num(r->sie_oscar_j));
    ADD(o, "sie_oscar_se_j", num(r->sie_oscar_se));
    ADD(o, "cpu_pct", num(r->cpu_pct));
    ADD(o, "mem_used_b", num(r->mem_used_b));
    ADD(o, "disk_read_b", num(r->disk_read_b));
    ADD(o, "disk_written_b", num(r->disk_written_b));
    ADD(o, "net_rx_b", num(r->net_rx_b));
    ADD(o, "net_tx_b", num(r->net_tx_b));
    json_object *m = json_object_new_object();
    for (int k = 0; k < ev->nmetrics; k++)
        ADD(m, ev->metrics[k], num(r->metric[k]));
    ADD(o, "metrics", m);
    json_object *t = json_object_new_object();
    for (int k = 0; k < ev->ntargets; k++)
        ADD(t, ev->targets[k].label, num(r->target_j[k]));
    ADD(o, "energy_to_target_j", t);
    json_object *a = json_object_new_array();
    for (size_t k = 0; k < r->nact; k++) {
        json_object *x = json_object_new_object();
        ADD(x, "name", str(r->act[k].name));
        ADD(x, "count", json_object_new_int(r->act[k].count));
        ADD(x, "energy_j", num(r->act[k].energy_j));
        ADD(x, "duration_s", num(r->act[k].duration_s));
        json_object_array_add(a, x);
    }
    ADD(o, "actions", a);
    json_object *e = json_object_new_array();
    for (size_t k = 0; k < r->nep; k++) {
        json_object *x = json_object_new_object();
        ADD(x, "index", json_object_new_int64(r->ep[k].index));
        ADD(x, "energy_j", num(r->ep[k].energy_j));
        ADD(x, "cumulative_j", num(r->ep[k].cumulative_j));
        ADD(x, "duration_s", num(r->ep[k].duration_s));
        json_object *mm = json_object_new_object();
        for (int j = 0; j < ev->nmetrics; j++)
            ADD(mm, ev->metrics[j], num(r->ep[k].metric[j]));
        ADD(x, "metrics", mm);
        json_object_array_add(e, x);
    }
    ADD(o, "epochs", e);
    return o;
}

static json_object *group_json(const jb_eval *ev, const jb_eval_group *g)
{
    json_object *o = json_object_new_object();
    ADD(o, "variant", str(g->variant));
    ADD(o, "phase", str(g->phase));
    ADD(o, "label", str(g->label));
    ADD(o, "n_ok", json_object_new_int(g->n_ok));
    ADD(o, "n_failed", json_object_new_int(g->n_failed));
    json_object *s = json_object_new_object();
    for (int i = 0; i < g->nst; i++)
        if (g->st[i].ok) {
            json_object *d = desc_json(&g->st[i].d);
            ADD(d, "label", str(g->st[i].label));
            ADD(s, g->st[i].key, d);
        }
    ADD(o, "stats", s);
    if (g->has_sie) {
        json_object *x = json_object_new_object();
        ADD(x, "power_based_wh", estimate_json(&g->sie_power));
        ADD(x, "oscar_wh", estimate_json(&g->sie_oscar));
        ADD(x, "oscar_applies", json_object_new_boolean(g->sie_oscar_equal_length));
        ADD(x, "negative_runs", json_object_new_int(g->n_negative_sie));
        ADD(o, "software_induced", x);
    } else {
        ADD(o, "software_induced", NULL);
    }
    ADD(o, "load_sd_w", num(g->load_sd_w));
    ADD(o, "carbon_g_mean", num(g->carbon_g_mean));
    json_object *u = json_object_new_array();
    for (int i = 0; i < g->nutil; i++) {
        const jb_eval_util *x = &g->util[i];
        json_object *j = json_object_new_object();
        ADD(j, "resource", str(x->resource));
        ADD(j, "load_unit", str(x->load_unit));
        ADD(j, "utilisation_unit", str(x->util_unit));
        ADD(j, "full_load", num(x->full));
        ADD(j, "base_load", num(x->base));
        ADD(j, "load", num(x->load));
        ADD(j, "net_load", num(x->net));
        ADD(j, "allocation_factor", num(x->alloc));
        ADD(j, "effective_load", num(x->effective));
        ADD(j, "utilisation", num(x->utilisation));
        json_object_array_add(u, j);
    }
    ADD(o, "blue_angel", u);
    json_object *t = json_object_new_array();
    for (int i = 0; i < ev->ntargets; i++) {
        json_object *j = json_object_new_object();
        ADD(j, "target", str(ev->targets[i].label));
        ADD(j, "reached", json_object_new_int(g->target_reached[i]));
        ADD(j, "never_reached", json_object_new_int(g->target_never[i]));
        ADD(j, "energy_wh", g->target_ok[i] ? desc_json(&g->target_wh[i]) : NULL);
        json_object_array_add(t, j);
    }
    ADD(o, "targets", t);
    json_object *e = json_object_new_array();
    for (size_t i = 0; i < g->nep; i++) {
        json_object *j = json_object_new_object();
        ADD(j, "index", json_object_new_int64(g->ep[i].index));
        ADD(j, "mean_energy_j", num(g->ep[i].energy_j));
        ADD(j, "mean_cumulative_j", num(g->ep[i].cumulative_j));
        json_object *mm = json_object_new_object();
        for (int k = 0; k < ev->nmetrics; k++)
            ADD(mm, ev->metrics[k], num(g->ep[i].metric[k]));
        ADD(j, "mean_metrics", mm);
        json_object_array_add(e, j);
    }
    ADD(o, "epochs", e);
    return o;
}

static json_object *cmp_json(const jb_eval_cmp *c)
{
    json_object *o = json_object_new_object();
    ADD(o, "quantity", str(c->key));
    ADD(o, "a", str(c->a));
    ADD(o, "b", str(c->b));
    ADD(o, "ok", json_object_new_boolean(c->ok));
    if (c->ok) {
        ADD(o, "welch_t", num(c->c.welch.t));
        ADD(o, "welch_df", num(c->c.welch.df));
        ADD(o, "welch_p", num(c->c.welch.p));
        ADD(o, "p_holm", num(c->p_holm));
        ADD(o, "mwu_u", num(c->c.mwu.u));
        ADD(o, "mwu_p", num(c->c.mwu.p));
        ADD(o, "mwu_method", str(jb_stats_mwu_method_name(&c->c.mwu)));
        ADD(o, "cohen_d", num(c->c.cohen_d));
        ADD(o, "hedges_g", num(c->c.hedges_g));
        ADD(o, "cliff_delta", num(c->c.cliff_delta));
        ADD(o, "rel_diff_pct", num(c->c.rel.pct));
        ADD(o, "rel_diff_ci_lo_pct", num(c->c.rel.lo_pct));
        ADD(o, "rel_diff_ci_hi_pct", num(c->c.rel.hi_pct));
        ADD(o, "sentence", str(c->sentence));
    }
    ADD(o, "note", str(c->note));
    return o;
}

int jb_report_json(FILE *f, const jb_eval *ev)
{
    json_object *o = json_object_new_object();
    json_object *x = json_object_new_object();
    ADD(x, "id", json_object_new_int64(ev->experiment_id));
    ADD(x, "name", str(ev->name));
    ADD(x, "kind", str(ev->kind));
    ADD(x, "status", str(ev->status));
    ADD(x, "spec_path", str(ev->spec_path));
    ADD(x, "store", str(ev->store_path));
    ADD(x, "runs", json_object_new_int(ev->n_runs));
    ADD(x, "runs_ok", json_object_new_int(ev->n_ok));
    ADD(o, "experiment", x);
    json_object *h = json_object_new_object();
    ADD(h, "hostname", str(ev->host));
    ADD(h, "cpu_model", str(ev->cpu_model));
    ADD(h, "cores", json_object_new_int(ev->cores));
    ADD(h, "ram_bytes", num(ev->ram_b));
    ADD(h, "kernel", str(ev->kernel));
    ADD(h, "os", str(ev->os));
    ADD(h, "extra", str(ev->host_extra));
    ADD(h, "recorded_with", str(ev->jb_version));
    ADD(o, "host", h);
    ADD(o, "joulebench_version", str(JB_VERSION));
    ADD(o, "meters", str(ev->meters));
    ADD(o, "interval_ms", num(ev->interval_ms));
    ADD(o, "estimated", json_object_new_boolean(ev->any_estimated));
    json_object *m = json_object_new_array();
    for (int i = 0; i < ev->nmetrics; i++)
        json_object_array_add(m, str(ev->metrics[i]));
    ADD(o, "metrics", m);
    json_object *t = json_object_new_array();
    for (int i = 0; i < ev->ntargets; i++)
        json_object_array_add(t, str(ev->targets[i].label));
    ADD(o, "targets", t);
    if (ev->carbon_g_per_kwh > 0) {
        json_object *c = json_object_new_object();
        ADD(c, "g_per_kwh", num(ev->carbon_g_per_kwh));
        ADD(c, "source", str(ev->carbon_source));
        ADD(o, "carbon_intensity", c);
    } else {
        ADD(o, "carbon_intensity", NULL);
    }
    json_object *g = json_object_new_array();
    for (size_t i = 0; i < ev->ngroups; i++)
        json_object_array_add(g, group_json(ev, &ev->groups[i]));
    ADD(o, "groups", g);
    json_object *c = json_object_new_array();
    for (size_t i = 0; i < ev->ncmps; i++)
        json_object_array_add(c, cmp_json(&ev->cmps[i]));
    ADD(o, "comparisons", c);
    json_object *ctl = json_object_new_array();
    for (int i = 0; i < ev->ncontrols; i++) {
        json_object *j = json_object_new_object();
        ADD(j, "control", str(ev->controls[i].name));
        ADD(j, "applied", json_object_new_int(ev->controls[i].applied));
        ADD(j, "skipped", json_object_new_int(ev->controls[i].skipped));
        ADD(j, "failed", json_object_new_int(ev->controls[i].failed));
        ADD(j, "other", json_object_new_int(ev->controls[i].other));
        ADD(j, "reason", str(ev->controls[i].reason));
        json_object_array_add(ctl, j);
    }
    ADD(o, "controls", ctl);
    json_object *r = json_object_new_array();
    for (size_t i = 0; i < ev->nruns; i++)
        json_object_array_add(r, run_json(ev, &ev->runs[i]));
    ADD(o, "runs", r);
    json_object *w = json_object_new_array();
    for (size_t i = 0; i < ev->nwarnings; i++)
        json_object_array_add(w, str(ev->warnings[i]));
    ADD(o, "warnings", w);
    int rc = fprintf(f, "%s\n",
                     json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return rc < 0 ? -1 : 0;
}

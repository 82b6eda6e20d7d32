/*
 * report_csv.c — `joulebench report --csv DIR`: one CSV file per table
 * (runs.csv, stats.csv, software_induced.csv, comparisons.csv, targets.csv,
 * utilisation.csv, epochs.csv, warnings.csv). Numbers use '.' and full
 * precision; undefined values are empty. Text cells are quoted (RFC 4180).
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "evaluate.h"

static void q(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void n(FILE *f, double v)
{
    fputc(',', f);
    if (isfinite(v)) fprintf(f, "%.10g", v);
}

static FILE *open_csv(const char *dir, const char *name, jb_err *err)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) jb_errf(err, "%s: cannot write: %s", path, strerror(errno));
    return f;
}

static void runs_csv(FILE *f, const jb_eval *ev)
{
    fputs("run_id,variant,phase,rep,status,duration_s,energy_j,estimated,mean_power_w,"
          "sie_power_j,sie_power_se_j,sie_oscar_j,sie_oscar_se_j,cpu_pct,mem_used_b,disk_read_b,"
          "disk_written_b,net_rx_b,net_tx_b",
          f);
    for (int m = 0; m < ev->nmetrics; m++)
        fprintf(f, ",%s", ev->metrics[m]);
    fputc('\n', f);
    for (size_t i = 0; i < ev->nruns; i++) {
        const jb_eval_run *r = &ev->runs[i];
        fprintf(f, "%lld,", (long long)r->id);
        q(f, r->variant);
        fprintf(f, ",%s,%d,%s", r->phase, r->rep, r->status);
        n(f, r->duration_s);
        n(f, r->energy_j);
        fprintf(f, ",%d", r->estimated);
        double v[] = {r->mean_power_w,   r->sie_power_j, r->sie_power_se, r->sie_oscar_j,
                      r->sie_oscar_se,   r->cpu_pct,     r->mem_used_b,   r->disk_read_b,
                      r->disk_written_b, r->net_rx_b,    r->net_tx_b};
        for (size_t k = 0; k < JB_ARRAY_LEN(v); k++)
            n(f, v[k]);
        for (int m = 0; m < ev->nmetrics; m++)
            n(f, r->metric[m]);
        fputc('\n', f);
    }
}

static void stats_csv(FILE *f, const jb_eval *ev)
{
    fputs("variant,phase,quantity,n,mean,sd,se,ci_lo,ci_hi,median,min,max,range,q1,q3,iqr,cv,"
          "shapiro_w,shapiro_p,outliers\n",
          f);
    for (size_t g = 0; g < ev->ngroups; g++)
        for (int i = 0; i < ev->groups[g].nst; i++) {
            const jb_eval_stat *s = &ev->groups[g].st[i];
            if (!s->ok) continue;
            const jb_desc *d = &s->d;
            q(f, ev->groups[g].variant);
            fprintf(f, ",%s,%s,%zu", ev->groups[g].phase, s->key, d->n);
            double v[] = {d->mean,  d->sd, d->se, d->ci_lo, d->ci_hi, d->median, d->min, d->max,
                          d->range, d->q1, d->q3, d->iqr,   d->cv,    d->sw_w,   d->sw_p};
            for (size_t k = 0; k < JB_ARRAY_LEN(v); k++)
                n(f, v[k]);
            fprintf(f, ",%zu\n", d->n_outliers);
        }
}

static void sie_csv(FILE *f, const jb_eval *ev)
{
    fputs("variant,phase,form,value_wh,se_wh,df,ci_lo_wh,ci_hi_wh,negative_runs,load_sd_w\n", f);
    for (size_t g = 0; g < ev->ngroups; g++) {
        const jb_eval_group *gr = &ev->groups[g];
        if (!gr->has_sie) continue;
        const jb_estimate *e[2] = {&gr->sie_power, &gr->sie_oscar};
        for (int k = 0; k < 2; k++) {
            q(f, gr->variant);
            fprintf(f, ",%s,%s", gr->phase, k ? "oscar" : "power");
            n(f, e[k]->value);
            n(f, e[k]->se);
            n(f, e[k]->df);
            n(f, e[k]->ci_lo);
            n(f, e[k]->ci_hi);
            fprintf(f, ",%d", gr->n_negative_sie);
            n(f, gr->load_sd_w);
            fputc('\n', f);
        }
    }
}

static void cmp_csv(FILE *f, const jb_eval *ev)
{
    fputs("quantity,a,b,welch_t,welch_df,welch_p,p_holm,mwu_u,mwu_p,cohen_d,hedges_g,"
          "cliff_delta,rel_diff_pct,rel_ci_lo_pct,rel_ci_hi_pct,sentence,note\n",
          f);
    for (size_t i = 0; i < ev->ncmps; i++) {
        const jb_eval_cmp *c = &ev->cmps[i];
        fprintf(f, "%s,", c->key);
        q(f, c->a);
        fputc(',', f);
        q(f, c->b);
        double v[] = {c->c.welch.t,     c->c.welch.df, c->c.welch.p,    c->p_holm,
                      c->c.mwu.u,       c->c.mwu.p,    c->c.cohen_d,    c->c.hedges_g,
                      c->c.cliff_delta, c->c.rel.pct,  c->c.rel.lo_pct, c->c.rel.hi_pct};
        for (size_t k = 0; k < JB_ARRAY_LEN(v); k++)
            n(f, c->ok ? v[k] : NAN);
        fputc(',', f);
        q(f, c->sentence);
        fputc(',', f);
        q(f, c->note);
        fputc('\n', f);
    }
}

static void misc_csv(FILE *t, FILE *u, FILE *e, FILE *w, const jb_eval *ev)
{
    fputs("target,variant,reached,never_reached,mean_wh,sd_wh,ci_lo_wh,ci_hi_wh\n", t);
    fputs("variant,phase,resource,load_unit,full,base,load,net,allocation_factor,effective,"
          "utilisation,utilisation_unit\n",
          u);
    fputs("variant,phase,epoch,mean_energy_j,mean_cumulative_j,mean_duration_s", e);
    for (int m = 0; m < ev->nmetrics; m++)
        fprintf(e, ",%s", ev->metrics[m]);
    fputc('\n', e);
    for (size_t g = 0; g < ev->ngroups; g++) {
        const jb_eval_group *gr = &ev->groups[g];
        for (int k = 0; k < ev->ntargets && !strcmp(gr->phase, "scenario"); k++) {
            q(t, ev->targets[k].label);
            fputc(',', t);
            q(t, gr->variant);
            fprintf(t, ",%d,%d", gr->target_reached[k], gr->target_never[k]);
            const jb_desc *d = &gr->target_wh[k];
            double v[] = {d->mean, d->sd, d->ci_lo, d->ci_hi};
            for (size_t j = 0; j < 4; j++)
                n(t, gr->target_ok[k] ? v[j] : NAN);
            fputc('\n', t);
        }
        for (int k = 0; k < gr->nutil; k++) {
            const jb_eval_util *x = &gr->util[k];
            q(u, gr->variant);
            fprintf(u, ",%s,%s,%s", gr->phase, x->resource, x->load_unit);
            double v[] = {x->full,  x->base,      x->load,       x->net,
                          x->alloc, x->effective, x->utilisation};
            for (size_t j = 0; j < JB_ARRAY_LEN(v); j++)
                n(u, v[j]);
            fprintf(u, ",%s\n", x->util_unit);
        }
        for (size_t k = 0; k < gr->nep; k++) {
            q(e, gr->variant);
            fprintf(e, ",%s,%lld", gr->phase, (long long)gr->ep[k].index);
            n(e, gr->ep[k].energy_j);
            n(e, gr->ep[k].cumulative_j);
            n(e, gr->ep[k].duration_s);
            for (int m = 0; m < ev->nmetrics; m++)
                n(e, gr->ep[k].metric[m]);
            fputc('\n', e);
        }
    }
    fputs("warning\n", w);
    for (size_t i = 0; i < ev->nwarnings; i++) {
        q(w, ev->warnings[i]);
        fputc('\n', w);
    }
}

int jb_report_csv(const char *dir, const jb_eval *ev, jb_err *err)
{
    if (mkdir(dir, 0755) && errno != EEXIST)
        return jb_errf(err, "%s: cannot create the CSV directory: %s", dir, strerror(errno));
    static const char *names[] = {"runs.csv",        "stats.csv",   "software_induced.csv",
                                  "comparisons.csv", "targets.csv", "utilisation.csv",
                                  "epochs.csv",      "warnings.csv"};
    FILE *f[8] = {0};
    int rc = 0;
    for (int i = 0; i < 8 && !rc; i++)
        if (!(f[i] = open_csv(dir, names[i], err))) rc = -1;
    if (!rc) {
        runs_csv(f[0], ev);
        stats_csv(f[1], ev);
        sie_csv(f[2], ev);
        cmp_csv(f[3], ev);
        misc_csv(f[4], f[5], f[6], f[7], ev);
    }
    for (int i = 0; i < 8; i++)
        if (f[i] && fclose(f[i]) && !rc)
            rc = jb_errf(err, "%s/%s: writing failed (disk full?)", dir, names[i]);
    return rc;
}

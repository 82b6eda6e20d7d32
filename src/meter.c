/*
 * meter.c — choosing and opening sources (jb_meter). The sampling threads
 * that read them are in sampler.c.
 *
 * "auto" = every default usage source, plus every power source that works
 * here, at most one per family (two interfaces to the same RAPL counters are
 * never both opened); the estimator is added only when no power source works.
 */
#include "meter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool family_taken(const jb_meter *m, const char *family)
{
    if (!family) return false;
    for (int i = 0; i < m->nsrc; i++)
        if (m->src[i].drv->family && !strcmp(m->src[i].drv->family, family)) return true;
    return false;
}

static int open_one(jb_meter *m, const jb_source_driver *d, jb_err *err)
{
    if (m->nsrc >= (int)JB_ARRAY_LEN(m->src)) return jb_errf(err, "too many sources");
    jb_meter_src *s = &m->src[m->nsrc];
    s->drv = d;
    s->first = m->ch.n;
    if (d->open(&m->env, &s->state, &m->ch, err)) return -1;
    s->n = m->ch.n - s->first;
    s->max_poll_ns = d->max_poll_ns ? d->max_poll_ns(s->state) : 0;
    m->nsrc++;
    return 0;
}

static int usable(const jb_meter *m, const jb_source_driver *d, char *why, size_t cap)
{
    char reason[512] = "", fix[512] = "";
    if (d->probe(&m->env, reason, sizeof reason, fix, sizeof fix)) return 1;
    snprintf(why, cap, "%s (%s)", reason, fix);
    return 0;
}

static int open_auto(jb_meter *m, jb_err *err)
{
    char why[1100];
    for (int i = 0; jb_source_drivers[i]; i++) {
        const jb_source_driver *d = jb_source_drivers[i];
        if (!d->in_default || family_taken(m, d->family)) continue;
        if (!usable(m, d, why, sizeof why)) {
            size_t l = strlen(m->skipped);
            snprintf(m->skipped + l, sizeof m->skipped - l, "%s: %s\n", d->name, why);
            continue;
        }
        jb_err e2;
        if (open_one(m, d, &e2)) {
            if (!d->is_power) return jb_errf(err, "%s", e2.msg);
            size_t l = strlen(m->skipped);
            snprintf(m->skipped + l, sizeof m->skipped - l, "%s: %s\n", d->name, e2.msg);
        }
    }
    bool power = false;
    for (int i = 0; i < m->nsrc; i++)
        power |= m->src[i].drv->is_power;
    if (!power) {
        const jb_source_driver *est = jb_source_find("estimate");
        if (est && open_one(m, est, err)) return -1;
    }
    return 0;
}

static int open_list(jb_meter *m, const char *list, jb_err *err)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *name = strtok_r(buf, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        while (*name == ' ')
            name++;
        if (!strcmp(name, "auto")) {
            if (open_auto(m, err)) return -1;
            continue;
        }
        const jb_source_driver *d = jb_source_find(name);
        if (!d) {
            jb_buf names = {0};
            for (int i = 0; jb_source_drivers[i]; i++)
                jb_buf_printf(&names, "%s%s", i ? ", " : "", jb_source_drivers[i]->name);
            jb_errf(err, "unknown source '%s'; known sources: %s (see 'joulebench sources')", name,
                    names.data);
            jb_buf_free(&names);
            return -1;
        }
        char why[1100];
        if (!usable(m, d, why, sizeof why))
            return jb_errf(err, "source '%s' is not usable here: %s", name, why);
        if (open_one(m, d, err)) return -1;
    }
    return 0;
}

int jb_meter_open(jb_meter *m, const jb_meter_opts *o, jb_err *err)
{
    memset(m, 0, sizeof *m);
    m->env.root = o->root ? o->root : jb_default_root();
    m->env.interval_ns = o->interval_ns;
    m->env.self_pid = getpid();
    m->env.opts = o->opts;
    m->env.nopts = o->nopts;
    const char *list = (o->sources && *o->sources) ? o->sources : "auto";
    if (open_list(m, list, err)) {
        jb_meter_close(m);
        return -1;
    }
    return 0;
}

void jb_meter_close(jb_meter *m)
{
    for (int i = 0; i < m->nsrc; i++)
        if (m->src[i].drv->close) m->src[i].drv->close(m->src[i].state);
    m->nsrc = 0;
}

void jb_meter_set_target(jb_meter *m, pid_t pid)
{
    m->env.target_pid = pid;
    for (int i = 0; i < m->nsrc; i++)
        if (m->src[i].drv->set_target) m->src[i].drv->set_target(m->src[i].state, pid);
}

void jb_meter_read(jb_meter *m, int64_t now_ns, double *values, uint8_t *ok)
{
    for (int i = 0; i < m->nsrc; i++) {
        jb_meter_src *s = &m->src[i];
        memset(ok + s->first, 1, (size_t)s->n);
        if (s->drv->read(s->state, now_ns, values + s->first, ok + s->first) < 0)
            memset(ok + s->first, 0, (size_t)s->n);
    }
}

void jb_meter_host_info(jb_meter *m, jb_buf *out)
{
    for (int i = 0; i < m->nsrc; i++)
        if (m->src[i].drv->host_info) m->src[i].drv->host_info(m->src[i].state, out);
}

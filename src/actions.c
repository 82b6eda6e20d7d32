/*
 * actions.c — markers to actions (actions.h): pair begin/end, close what is
 * open at run end, compute nesting, attach metrics and events. Everything is
 * O(n log n) so a flood of markers stays cheap.
 */
#include "actions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sorted_ref {
    const jb_marker *m;
    size_t pos;
} sorted_ref;

/* Make room for one more element in a growable array. */
static int grow(void **p, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap) return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *np = realloc(*p, ncap * elem);
    if (!np) return -1;
    *p = np;
    *cap = ncap;
    return 0;
}

static int by_time(const void *a, const void *b)
{
    const sorted_ref *x = a, *y = b;
    if (x->m->t_ns != y->m->t_ns) return x->m->t_ns < y->m->t_ns ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

typedef struct builder {
    jb_actions *out;
    size_t cap_actions, cap_metrics, cap_events, cap_issues;
    size_t *open; /* indices into out->actions of actions still open */
    size_t nopen, cap_open;
} builder;

static void fmt_key(char *buf, size_t cap, const char *name, bool has_index, int64_t index)
{
    if (has_index)
        snprintf(buf, cap, "'%s' #%lld", name, (long long)index);
    else
        snprintf(buf, cap, "'%s'", name);
}

static int add_issue(builder *b, int64_t t_ns, const char *what, const char *name, bool has_index,
                     int64_t index)
{
    jb_actions *o = b->out;
    if (grow((void **)&o->issues, &b->cap_issues, o->nissues, sizeof *o->issues)) return -1;
    char key[96];
    fmt_key(key, sizeof key, name, has_index, index);
    jb_action_issue *is = &o->issues[o->nissues++];
    is->t_ns = t_ns;
    snprintf(is->text, sizeof is->text, what, key);
    return 0;
}

static bool same_key(const jb_action *a, const jb_marker *m)
{
    return a->has_index == m->has_index && (!a->has_index || a->index == m->index) &&
           !strcmp(a->name, m->name);
}

static int on_begin(builder *b, const jb_marker *m)
{
    jb_actions *o = b->out;
    if (grow((void **)&o->actions, &b->cap_actions, o->n, sizeof *o->actions) ||
        grow((void **)&b->open, &b->cap_open, b->nopen, sizeof *b->open))
        return -1;
    jb_action *a = &o->actions[o->n];
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", m->name);
    a->has_index = m->has_index;
    a->index = m->has_index ? m->index : 0;
    a->begin_ns = a->end_ns = m->t_ns;
    a->pid = m->pid;
    a->parent = -1;
    b->open[b->nopen++] = o->n++;
    return 0;
}

static int on_end(builder *b, const jb_marker *m)
{
    for (size_t k = b->nopen; k-- > 0;) {
        jb_action *a = &b->out->actions[b->open[k]];
        if (!same_key(a, m)) continue;
        a->end_ns = m->t_ns;
        memmove(&b->open[k], &b->open[k + 1], (b->nopen - k - 1) * sizeof *b->open);
        b->nopen--;
        return 0;
    }
    return add_issue(b, m->t_ns, "end of %s without a begin", m->name, m->has_index, m->index);
}

static int on_metric(builder *b, const jb_marker *m)
{
    jb_actions *o = b->out;
    if (grow((void **)&o->metrics, &b->cap_metrics, o->nmetrics, sizeof *o->metrics)) return -1;
    jb_action_metric *x = &o->metrics[o->nmetrics++];
    snprintf(x->name, sizeof x->name, "%s", m->name);
    x->has_index = m->has_index;
    x->index = m->has_index ? m->index : 0;
    x->value = m->value;
    x->t_ns = m->t_ns;
    x->action = -1;
    return 0;
}

static int on_event(builder *b, const jb_marker *m)
{
    jb_actions *o = b->out;
    if (grow((void **)&o->events, &b->cap_events, o->nevents, sizeof *o->events)) return -1;
    jb_action_event *x = &o->events[o->nevents++];
    snprintf(x->name, sizeof x->name, "%s", m->name);
    x->has_index = m->has_index;
    x->index = m->has_index ? m->index : 0;
    x->t_ns = m->t_ns;
    x->action = -1;
    return 0;
}

static int close_open(builder *b, int64_t run_end_ns)
{
    for (size_t k = 0; k < b->nopen; k++) {
        jb_action *a = &b->out->actions[b->open[k]];
        a->end_ns = run_end_ns > a->begin_ns ? run_end_ns : a->begin_ns;
        a->flags |= JB_ACTION_OPEN_AT_END;
        if (add_issue(b, a->end_ns, "%s still open at run end: closed there", a->name, a->has_index,
                      a->index))
            return -1;
    }
    b->nopen = 0;
    return 0;
}

/* Actions were created in begin order; a stable sort puts the outer one first
 * when two begin at the same time. */
typedef struct seq_action {
    jb_action a;
    size_t seq;
} seq_action;

static int by_begin(const void *x, const void *y)
{
    const seq_action *a = x, *b = y;
    if (a->a.begin_ns != b->a.begin_ns) return a->a.begin_ns < b->a.begin_ns ? -1 : 1;
    if (a->a.end_ns != b->a.end_ns) return a->a.end_ns > b->a.end_ns ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int sort_actions(jb_actions *o)
{
    if (o->n < 2) return 0;
    seq_action *s = malloc(o->n * sizeof *s);
    if (!s) return -1;
    for (size_t i = 0; i < o->n; i++)
        s[i] = (seq_action){o->actions[i], i};
    qsort(s, o->n, sizeof *s, by_begin);
    for (size_t i = 0; i < o->n; i++)
        o->actions[i] = s[i].a;
    free(s);
    return 0;
}

/* Parent and depth with a stack of the actions that may still contain the next. */
static int nest(jb_actions *o)
{
    int *stack = malloc((o->n ? o->n : 1) * sizeof *stack);
    if (!stack) return -1;
    size_t top = 0;
    for (size_t i = 0; i < o->n; i++) {
        jb_action *a = &o->actions[i];
        while (top && o->actions[stack[top - 1]].end_ns <= a->begin_ns &&
               o->actions[stack[top - 1]].end_ns < a->end_ns)
            top--;
        a->parent = -1;
        for (size_t k = top; k-- > 0;) {
            const jb_action *p = &o->actions[stack[k]];
            if (p->end_ns >= a->end_ns) {
                a->parent = stack[k];
                break;
            }
            if (p->end_ns > a->begin_ns) a->flags |= JB_ACTION_OVERLAPS;
        }
        a->depth = a->parent < 0 ? 0 : o->actions[a->parent].depth + 1;
        stack[top++] = (int)i;
    }
    free(stack);
    return 0;
}

/* The last action that began at or before t (actions sorted by begin), -1. */
static int last_begun(const jb_actions *o, int64_t t)
{
    size_t lo = 0, hi = o->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (o->actions[mid].begin_ns <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (int)lo - 1;
}

/* Innermost action running at t: [begin, end). Walks up from the last one begun. */
static int running_at(const jb_actions *o, int64_t t)
{
    int c = last_begun(o, t);
    while (c >= 0 && !(t < o->actions[c].end_ns))
        c = o->actions[c].parent;
    return c;
}

/* Actions with an index, sorted by (index, begin): finds "epoch 3" for metric 3. */
typedef struct by_index_ref {
    int64_t index, begin;
    int action;
} by_index_ref;

static int cmp_index_ref(const void *x, const void *y)
{
    const by_index_ref *a = x, *b = y;
    if (a->index != b->index) return a->index < b->index ? -1 : 1;
    if (a->begin != b->begin) return a->begin < b->begin ? -1 : 1;
    return a->action < b->action ? -1 : a->action > b->action;
}

static int owner_by_index(const jb_actions *o, const by_index_ref *refs, size_t nrefs,
                          int64_t index, int64_t t)
{
    size_t lo = 0, hi = nrefs; /* first ref > (index, t) */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (refs[mid].index < index || (refs[mid].index == index && refs[mid].begin <= t))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || refs[lo - 1].index != index) return -1;
    int c = refs[lo - 1].action, best = c;
    for (int p = o->actions[c].parent; p >= 0; p = o->actions[p].parent)
        if (o->actions[p].has_index && o->actions[p].index == index) best = p;
    return best;
}

static int attach(jb_actions *o)
{
    by_index_ref *refs = malloc((o->n ? o->n : 1) * sizeof *refs);
    if (!refs) return -1;
    size_t nrefs = 0;
    for (size_t i = 0; i < o->n; i++)
        if (o->actions[i].has_index)
            refs[nrefs++] = (by_index_ref){o->actions[i].index, o->actions[i].begin_ns, (int)i};
    qsort(refs, nrefs, sizeof *refs, cmp_index_ref);
    for (size_t i = 0; i < o->nmetrics; i++) {
        jb_action_metric *x = &o->metrics[i];
        x->action = x->has_index ? owner_by_index(o, refs, nrefs, x->index, x->t_ns) : -1;
        if (x->action < 0) x->action = running_at(o, x->t_ns);
    }
    for (size_t i = 0; i < o->nevents; i++)
        o->events[i].action = running_at(o, o->events[i].t_ns);
    free(refs);
    return 0;
}

static int pair_markers(builder *b, const jb_marker *m, size_t n)
{
    sorted_ref *refs = malloc((n ? n : 1) * sizeof *refs);
    if (!refs) return -1;
    for (size_t i = 0; i < n; i++)
        refs[i] = (sorted_ref){&m[i], i};
    qsort(refs, n, sizeof *refs, by_time);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const jb_marker *x = refs[i].m;
        if (!strcmp(x->kind, "begin"))
            rc = on_begin(b, x);
        else if (!strcmp(x->kind, "end"))
            rc = on_end(b, x);
        else if (!strcmp(x->kind, "metric"))
            rc = on_metric(b, x);
        else
            rc = on_event(b, x);
    }
    free(refs);
    return rc;
}

int jb_actions_build(const jb_marker *m, size_t n, int64_t run_end_ns, jb_actions *out, jb_err *err)
{
    memset(out, 0, sizeof *out);
    builder b = {.out = out};
    int rc = pair_markers(&b, m, n);
    if (!rc) rc = close_open(&b, run_end_ns);
    if (!rc) rc = sort_actions(out);
    if (!rc) rc = nest(out);
    if (!rc) rc = attach(out);
    free(b.open);
    if (rc) {
        jb_actions_free(out);
        return jb_errf(err, "actions: out of memory for %zu markers", n);
    }
    return 0;
}

void jb_actions_free(jb_actions *a)
{
    free(a->actions);
    free(a->metrics);
    free(a->events);
    free(a->issues);
    memset(a, 0, sizeof *a);
}

const jb_action_metric *jb_actions_last_metric(const jb_actions *a, const char *name,
                                               bool has_index, int64_t index)
{
    for (size_t i = a->nmetrics; i-- > 0;) {
        const jb_action_metric *x = &a->metrics[i];
        if (x->has_index == has_index && (!has_index || x->index == index) &&
            !strcmp(x->name, name))
            return x;
    }
    return NULL;
}

const jb_action_metric *jb_actions_metric_of(const jb_actions *a, int action, const char *name)
{
    for (size_t i = a->nmetrics; i-- > 0;)
        if (a->metrics[i].action == action && !strcmp(a->metrics[i].name, name))
            return &a->metrics[i];
    return NULL;
}

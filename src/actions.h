/*
 * actions.h — turn one run's markers into actions, the unit energy is
 * attributed to (DESIGN.md vocabulary: an action is a begin/end pair).
 *
 * Pure functions on arrays, no I/O: the writer or the analysis reads a run's
 * markers from the store and calls jb_actions_build().
 *
 * Rules:
 *  - an `end` closes the most recent still-open `begin` with the same name and
 *    index (none and 3 are different keys); an `end` with no such begin is an
 *    issue and otherwise ignored;
 *  - an action still open at run end is closed at the run end and flagged
 *    JB_ACTION_OPEN_AT_END (the workload crashed or forgot the end);
 *  - nesting: an action lying within another one's [begin, end] is its child
 *    (epoch in train; train and validation in epoch). Actions that only touch
 *    (one ends when the next begins) are siblings. One that overlaps its
 *    neighbour without lying inside it gets JB_ACTION_OVERLAPS and the nearest
 *    action that does contain it as parent;
 *  - a metric with an index belongs to the outermost action with that index
 *    that began at or before it (val_accuracy 3 -> epoch 3, even when it is
 *    sent after `end epoch 3`); without an index, or when no action has its
 *    index, to the innermost action running at its time ([begin, end));
 *  - events are kept in time order with the innermost action running then.
 */
#ifndef JB_ACTIONS_H
#define JB_ACTIONS_H

#include "jb.h"
#include "store.h"

enum {
    JB_ACTION_OPEN_AT_END = 1u << 0, /* no end marker: closed at the run end */
    JB_ACTION_OVERLAPS = 1u << 1,    /* overlaps an action it is not nested in */
};

typedef struct jb_action {
    char name[68];
    bool has_index;
    int64_t index;
    int64_t begin_ns, end_ns; /* sender times (Unix ns) */
    int64_t pid;              /* of the begin marker */
    int depth;                /* 0 = top level */
    int parent;               /* index into jb_actions.actions, -1 = none */
    unsigned flags;           /* JB_ACTION_* */
} jb_action;

typedef struct jb_action_metric {
    char name[68];
    bool has_index;
    int64_t index;
    double value;
    int64_t t_ns;
    int action; /* the action it belongs to, -1 = none */
} jb_action_metric;

typedef struct jb_action_event {
    char name[68];
    bool has_index;
    int64_t index;
    int64_t t_ns;
    int action; /* innermost action running at t_ns, -1 = none */
} jb_action_event;

typedef struct jb_action_issue {
    int64_t t_ns;
    char text[160]; /* "end of 'epoch' #3 without a begin" */
} jb_action_issue;

typedef struct jb_actions {
    jb_action *actions; /* sorted by begin (outer first on ties) */
    size_t n;
    jb_action_metric *metrics; /* time order */
    size_t nmetrics;
    jb_action_event *events; /* time order */
    size_t nevents;
    jb_action_issue *issues; /* time order */
    size_t nissues;
} jb_actions;

/* Build actions from n markers (any order; sorted by t_ns here, stable).
 * run_end_ns closes actions still open. -1 with err only when out of memory. */
int jb_actions_build(const jb_marker *m, size_t n, int64_t run_end_ns, jb_actions *out,
                     jb_err *err);
void jb_actions_free(jb_actions *a);

/* The last value (in time) of metric `name` with that index (has_index false:
 * the metric sent without an index), or NULL. */
const jb_action_metric *jb_actions_last_metric(const jb_actions *a, const char *name,
                                               bool has_index, int64_t index);

/* The last value of metric `name` attached to action number `action`, or NULL. */
const jb_action_metric *jb_actions_metric_of(const jb_actions *a, int action, const char *name);

#endif

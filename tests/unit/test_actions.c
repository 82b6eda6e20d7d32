/*
 * test_actions.c — markers to actions (src/actions.c): pairing by (name,
 * index), nesting (epoch in train, train and validation in epoch), siblings
 * that touch, overlaps, unmatched ends, actions open at run end, metric and
 * event attachment, unsorted input, and a large input that must stay fast.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"

#define NOIDX INT64_MIN

static jb_marker mk(int64_t t, const char *kind, const char *name, int64_t index, double value)
{
    jb_marker m = {.t_ns = t, .recv_ns = t, .pid = 42};
    snprintf(m.kind, sizeof m.kind, "%s", kind);
    snprintf(m.name, sizeof m.name, "%s", name);
    m.has_index = index != NOIDX;
    m.index = m.has_index ? index : 0;
    m.has_value = !strcmp(kind, "metric");
    m.value = value;
    return m;
}

static int find(const jb_actions *a, const char *name, int64_t index)
{
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->actions[i].name, name) &&
            (index == NOIDX ? !a->actions[i].has_index
                            : a->actions[i].has_index && a->actions[i].index == index))
            return (int)i;
    fail_msg("action %s %lld not found", name, (long long)index);
    return -1;
}

/* A training run: preprocessing, then train with two epochs, each with a
 * train step and a validation, metrics sent after each epoch's end. */
static void test_training_nesting(void **state)
{
    jb_marker m[] = {
        mk(0, "begin", "preprocessing", NOIDX, 0),
        mk(100, "end", "preprocessing", NOIDX, 0),
        mk(100, "begin", "train", NOIDX, 0),
        mk(100, "begin", "epoch", 1, 0),
        mk(110, "begin", "fit", 1, 0),
        mk(150, "end", "fit", 1, 0),
        mk(150, "begin", "validation", 1, 0),
        mk(180, "end", "validation", 1, 0),
        mk(180, "end", "epoch", 1, 0),
        mk(181, "metric", "val_accuracy", 1, 0.71),
        mk(181, "metric", "loss", 1, 0.9),
        mk(190, "begin", "epoch", 2, 0),
        mk(195, "event", "checkpoint", NOIDX, 0),
        mk(200, "begin", "validation", 2, 0),
        mk(205, "metric", "batch_loss", NOIDX, 0.5),
        mk(240, "end", "validation", 2, 0),
        mk(250, "end", "epoch", 2, 0),
        mk(251, "metric", "val_accuracy", 2, 0.83),
        mk(260, "end", "train", NOIDX, 0),
        mk(270, "event", "done", NOIDX, 0),
    };
    jb_actions a;
    jb_err err;
    assert_int_equal(jb_actions_build(m, JB_ARRAY_LEN(m), 300, &a, &err), 0);
    assert_int_equal(a.n, 7);
    assert_int_equal(a.nissues, 0);
    int pre = find(&a, "preprocessing", NOIDX), train = find(&a, "train", NOIDX);
    int e1 = find(&a, "epoch", 1), e2 = find(&a, "epoch", 2);
    int fit1 = find(&a, "fit", 1), v1 = find(&a, "validation", 1), v2 = find(&a, "validation", 2);
    /* preprocessing ends when train begins: siblings, both top level */
    assert_int_equal(a.actions[pre].depth, 0);
    assert_int_equal(a.actions[pre].parent, -1);
    assert_int_equal(a.actions[train].depth, 0);
    /* epoch 1 begins at the same instant as train and is still inside it */
    assert_int_equal(a.actions[e1].parent, train);
    assert_int_equal(a.actions[e1].depth, 1);
    assert_int_equal(a.actions[e2].parent, train);
    assert_int_equal(a.actions[fit1].parent, e1);
    assert_int_equal(a.actions[v1].parent, e1);
    assert_int_equal(a.actions[v1].depth, 2);
    assert_int_equal(a.actions[v2].parent, e2);
    assert_true(a.actions[e1].begin_ns == 100 && a.actions[e1].end_ns == 180);
    assert_true(a.actions[v2].begin_ns == 200 && a.actions[v2].end_ns == 240);
    for (size_t i = 0; i < a.n; i++)
        assert_int_equal(a.actions[i].flags, 0);
    for (size_t i = 1; i < a.n; i++)
        assert_true(a.actions[i - 1].begin_ns <= a.actions[i].begin_ns);

    /* metrics: val_accuracy 1 arrives after `end epoch 1` and still belongs to epoch 1 */
    assert_int_equal(a.nmetrics, 4);
    assert_int_equal(jb_actions_last_metric(&a, "val_accuracy", true, 1)->action, e1);
    assert_int_equal(jb_actions_last_metric(&a, "val_accuracy", true, 2)->action, e2);
    assert_int_equal(jb_actions_metric_of(&a, e2, "val_accuracy")->value * 100, 83);
    assert_int_equal(jb_actions_last_metric(&a, "batch_loss", false, 0)->action, v2);
    assert_null(jb_actions_last_metric(&a, "val_accuracy", true, 3));
    assert_null(jb_actions_metric_of(&a, train, "val_accuracy"));
    /* events: innermost action running then */
    assert_int_equal(a.nevents, 2);
    assert_int_equal(a.events[0].action, e2);
    assert_int_equal(a.events[1].action, -1);
    jb_actions_free(&a);
}

static void test_unmatched_and_open(void **state)
{
    jb_marker m[] = {
        mk(10, "end", "epoch", 0, 0), /* end without begin */
        mk(20, "begin", "train", NOIDX, 0), mk(30, "begin", "epoch", 1, 0),
        mk(40, "end", "epoch", 2, 0),     /* wrong index: no match */
        mk(50, "end", "epoch", NOIDX, 0), /* no index is a different key */
        mk(60, "begin", "epoch", 1, 0),   /* a second open epoch 1 (recursion) */
        mk(70, "end", "epoch", 1, 0),     /* closes the most recent one */
    };
    jb_actions a;
    assert_int_equal(jb_actions_build(m, JB_ARRAY_LEN(m), 100, &a, NULL), 0);
    assert_int_equal(a.n, 3);
    /* 3 unmatched ends + 2 actions still open (train, the first epoch 1) */
    assert_int_equal(a.nissues, 5);
    int nopen = 0;
    for (size_t i = 0; i < a.nissues; i++)
        nopen += strstr(a.issues[i].text, "still open") != NULL;
    assert_int_equal(nopen, 2);
    assert_non_null(strstr(a.issues[0].text, "'epoch' #0 without a begin"));
    int train = find(&a, "train", NOIDX);
    assert_true(a.actions[train].flags & JB_ACTION_OPEN_AT_END);
    assert_true(a.actions[train].end_ns == 100);
    /* the two epoch 1: the outer one is open at end, the inner one closed at 70 */
    int outer = -1, inner = -1;
    for (size_t i = 0; i < a.n; i++)
        if (!strcmp(a.actions[i].name, "epoch")) {
            if (a.actions[i].begin_ns == 30)
                outer = (int)i;
            else
                inner = (int)i;
        }
    assert_true(outer >= 0 && inner >= 0);
    assert_true(a.actions[outer].flags & JB_ACTION_OPEN_AT_END);
    assert_true(a.actions[outer].end_ns == 100);
    assert_int_equal(a.actions[inner].flags, 0);
    assert_true(a.actions[inner].end_ns == 70);
    assert_int_equal(a.actions[inner].parent, outer);
    assert_int_equal(a.actions[outer].parent, train);
    assert_int_equal(a.actions[inner].depth, 2);
    jb_actions_free(&a);

    /* run end before an open action's begin: closed at its begin, not before */
    jb_marker late[] = {mk(500, "begin", "x", NOIDX, 0)};
    assert_int_equal(jb_actions_build(late, 1, 100, &a, NULL), 0);
    assert_true(a.actions[0].end_ns == 500);
    jb_actions_free(&a);
}

static void test_overlap_and_unsorted(void **state)
{
    /* given out of order on purpose; two threads' actions overlap */
    jb_marker m[] = {
        mk(30, "end", "a", NOIDX, 0),    mk(10, "begin", "a", NOIDX, 0),
        mk(40, "end", "b", NOIDX, 0),    mk(20, "begin", "b", NOIDX, 0),
        mk(0, "begin", "run", NOIDX, 0), mk(50, "end", "run", NOIDX, 0),
    };
    jb_actions a;
    assert_int_equal(jb_actions_build(m, JB_ARRAY_LEN(m), 60, &a, NULL), 0);
    assert_int_equal(a.n, 3);
    assert_int_equal(a.nissues, 0);
    int run = find(&a, "run", NOIDX), x = find(&a, "a", NOIDX), y = find(&a, "b", NOIDX);
    assert_int_equal(a.actions[x].parent, run);
    assert_int_equal(a.actions[x].flags, 0);
    assert_int_equal(a.actions[y].parent, run);
    assert_true(a.actions[y].flags & JB_ACTION_OVERLAPS);
    assert_int_equal(a.actions[y].depth, 1);
    jb_actions_free(&a);

    assert_int_equal(jb_actions_build(NULL, 0, 0, &a, NULL), 0);
    assert_int_equal(a.n + a.nmetrics + a.nevents + a.nissues, 0);
    jb_actions_free(&a);
}

/* 100 000 markers: 10 000 epochs with steps and metrics must build quickly
 * and nest correctly. */
static void test_large(void **state)
{
    size_t n = 0, cap = 100002;
    jb_marker *m = malloc(cap * sizeof *m);
    m[n++] = mk(0, "begin", "train", NOIDX, 0);
    int64_t t = 1;
    for (int e = 0; e < 10000; e++) {
        m[n++] = mk(t++, "begin", "epoch", e, 0);
        for (int s = 0; s < 3; s++) {
            m[n++] = mk(t++, "begin", "step", s, 0);
            m[n++] = mk(t++, "end", "step", s, 0);
        }
        m[n++] = mk(t++, "end", "epoch", e, 0);
        m[n++] = mk(t++, "metric", "val_accuracy", e, e / 10000.0);
        m[n++] = mk(t++, "metric", "unrelated", 1000000 + e, 1);
    }
    m[n++] = mk(t++, "end", "train", NOIDX, 0);
    int64_t t0 = jb_mono_ns();
    jb_actions a;
    assert_int_equal(jb_actions_build(m, n, t, &a, NULL), 0);
    double ms = (double)(jb_mono_ns() - t0) / 1e6;
    print_message("actions: %zu markers -> %zu actions in %.1f ms\n", n, a.n, ms);
    assert_true(ms < 2000);
    assert_int_equal(a.n, 1 + 10000 * 4);
    assert_int_equal(a.nissues, 0);
    int train = find(&a, "train", NOIDX);
    for (size_t i = 0; i < a.n; i++) {
        const jb_action *x = &a.actions[i];
        if (!strcmp(x->name, "epoch")) assert_int_equal(x->parent, train);
        if (!strcmp(x->name, "step")) {
            assert_string_equal(a.actions[x->parent].name, "epoch");
            assert_int_equal(x->depth, 2);
        }
    }
    for (size_t i = 0; i < a.nmetrics; i += 2) {
        const jb_action *owner = &a.actions[a.metrics[i].action];
        /* val_accuracy e -> epoch e, not step e (steps have indices 0..2 too) */
        assert_string_equal(owner->name, "epoch");
        assert_int_equal(owner->index, a.metrics[i].index);
        assert_int_equal(a.metrics[i + 1].action, train); /* no action with its index */
    }
    jb_actions_free(&a);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_training_nesting),
        cmocka_unit_test(test_unmatched_and_open),
        cmocka_unit_test(test_overlap_and_unsorted),
        cmocka_unit_test(test_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

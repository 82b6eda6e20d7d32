/*
 * testutil.h — helpers for unit tests: fake /proc and /sys trees in a
 * temporary directory, and removing them again; finding a source's channels,
 * opening a source, and checking that an unusable source says why.
 */
#ifndef JB_TESTUTIL_H
#define JB_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source.h"

static char tu_root[256];

/* A fresh empty folder /tmp/jb_TAG_XXXXXX as the root, its path in tu_root. */
static inline void tu_make_root(const char *tag)
{
    snprintf(tu_root, sizeof tu_root, "/tmp/jb_%s_XXXXXX", tag);
    assert_non_null(mkdtemp(tu_root));
}

/* root+rel in path[n], its parent directories created; returns path. */
static inline const char *tu_path(char *path, size_t n, const char *rel)
{
    size_t k = strlen(tu_root);
    snprintf(path, n, "%s%s", tu_root, rel);
    if (path[k])
        for (char *p = path + k + 1; *p; p++)
            if (*p == '/') {
                *p = 0;
                mkdir(path, 0755);
                *p = '/';
            }
    return path;
}

/* Write text to root+rel, creating parent directories. */
static inline void tu_put(const char *rel, const char *text)
{
    char path[1024];
    FILE *f = fopen(tu_path(path, sizeof path, rel), "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Remove root+rel (a file or a whole folder), failing the test if rm fails. */
static inline void tu_rm(const char *rel)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s%s'", tu_root, rel);
    assert_int_equal(system(cmd), 0);
}

/* Remove the whole root, failing the test if rm fails. */
static inline void tu_rm_root(void)
{
    tu_rm("");
}

/* A fake /proc/PID: stat (the whole line), statm (rss pages), io, task/PID/children. */
static inline void tu_put_proc(int pid, const char *stat, unsigned rss,
                               unsigned long long read_bytes, unsigned long long write_bytes,
                               const char *children)
{
    char rel[128], b[512];
    snprintf(rel, sizeof rel, "/proc/%d/stat", pid);
    tu_put(rel, stat);
    snprintf(rel, sizeof rel, "/proc/%d/statm", pid);
    snprintf(b, sizeof b, "100 %u 0 0 0 0 0\n", rss);
    tu_put(rel, b);
    snprintf(rel, sizeof rel, "/proc/%d/io", pid);
    snprintf(b, sizeof b, "rchar: 1\nwchar: 2\nread_bytes: %llu\nwrite_bytes: %llu\n", read_bytes,
             write_bytes);
    tu_put(rel, b);
    snprintf(rel, sizeof rel, "/proc/%d/task/%d/children", pid, pid);
    tu_put(rel, children);
}

/* $JB_TOP/rel (JB_TOP defaults to ".") in path[n]; returns path. */
static inline const char *tu_top_path(char *path, size_t n, const char *rel)
{
    const char *top = getenv("JB_TOP");
    snprintf(path, n, "%s/%s", top && *top ? top : ".", rel);
    return path;
}

/* Index of the channel called name in l, or -1. */
static inline int tu_find(const jb_channel_list *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->ch[i].name, name)) return i;
    return -1;
}

/* Open drv; the test fails with the source's error when it does not open. */
static inline void tu_open_ok(const jb_source_driver *drv, const jb_source_env *env, void **state,
                              jb_channel_list *ch)
{
    jb_err err = {{0}};
    if (drv->open(env, state, ch, &err) != 0) fail_msg("%s: open failed: %s", drv->name, err.msg);
}

/* The reason and fix of the last tu_assert_unusable probe, for further checks. */
static char tu_reason[512], tu_fix[512];

/* drv->probe says 0 with a reason and a fix containing the given substrings
 * (NULL: not checked), then drv->open fails with an error containing
 * err_substr and adds no channel to ch. */
static inline void tu_assert_unusable(const jb_source_driver *drv, const jb_source_env *env,
                                      void **state, jb_channel_list *ch, const char *reason_substr,
                                      const char *fix_substr, const char *err_substr)
{
    tu_reason[0] = tu_fix[0] = 0;
    assert_int_equal(drv->probe(env, tu_reason, sizeof tu_reason, tu_fix, sizeof tu_fix), 0);
    if (reason_substr && !strstr(tu_reason, reason_substr))
        fail_msg("%s: probe reason '%s' lacks '%s'", drv->name, tu_reason, reason_substr);
    if (fix_substr && !strstr(tu_fix, fix_substr))
        fail_msg("%s: probe fix '%s' lacks '%s'", drv->name, tu_fix, fix_substr);
    jb_err err = {{0}};
    int n = ch->n;
    assert_int_equal(drv->open(env, state, ch, &err), -1);
    if (!strstr(err.msg, err_substr))
        fail_msg("%s: open error '%s' lacks '%s'", drv->name, err.msg, err_substr);
    assert_int_equal(ch->n, n);
}

#endif

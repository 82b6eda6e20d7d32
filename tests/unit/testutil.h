/*
 * testutil.h — helpers for unit tests: fake /proc and /sys trees in a
 * temporary directory, and removing them again.
 */
#ifndef JB_TESTUTIL_H
#define JB_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tu_root[256];

static inline void tu_make_root(const char *tag)
{
    snprintf(tu_root, sizeof tu_root, "/tmp/jb_%s_XXXXXX", tag);
    if (!mkdtemp(tu_root)) abort();
}

/* Write text to root+rel, creating parent directories. */
static inline void tu_put(const char *rel, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s%s", tu_root, rel);
    for (char *p = path + strlen(tu_root) + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(path, 0755);
            *p = '/';
        }
    FILE *f = fopen(path, "w");
    if (!f) abort();
    fputs(text, f);
    fclose(f);
}

static inline void tu_rm_root(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tu_root);
    if (system(cmd) != 0) {
    }
}

#endif

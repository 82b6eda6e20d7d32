/*
 * memory.c — system memory from /proc/meminfo: used (MemTotal −
 * MemAvailable), available and swap used, in bytes (gauges).
 */
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct mem_state {
    int fd;
    const char *root;
    char buf[8192];
} mem_state;

static int mem_probe(const jb_source_env *env, char *reason, size_t rcap, char *fix, size_t fcap)
{
    char buf[8192];
    jb_meminfo m;
    if (jb_read_file(env->root, "/proc/meminfo", buf, sizeof buf) < 0) {
        jb_src_explain_access("/proc/meminfo", errno, reason, rcap, fix, fcap);
        return 0;
    }
    jb_parse_meminfo(buf, &m);
    if (m.found < 4) {
        snprintf(reason, rcap, "/proc/meminfo lacks MemTotal/MemAvailable/SwapTotal/SwapFree");
        snprintf(fix, fcap, "needs Linux 3.14 or newer");
        return 0;
    }
    return 1;
}

static int mem_open(const jb_source_env *env, void **state, jb_channel_list *ch, jb_err *err)
{
    mem_state *s = calloc(1, sizeof *s);
    if (!s) return jb_errf(err, "memory: out of memory");
    s->fd = jb_src_open_file(env, "/proc/meminfo", err);
    if (s->fd < 0) {
        free(s);
        return -1;
    }
    s->root = env->root;
    jb_channel_add(ch, "memory/used", "B", JB_KIND_GAUGE, JB_ROLE_NONE, false);
    jb_channel_add(ch, "memory/available", "B", JB_KIND_GAUGE, JB_ROLE_NONE, false);
    jb_channel_add(ch, "memory/swap_used", "B", JB_KIND_GAUGE, JB_ROLE_NONE, false);
    *state = s;
    return 0;
}

static int mem_read(void *state, int64_t now_ns, double *v, uint8_t *ok)
{
    mem_state *s = state;
    jb_meminfo m;
    (void)now_ns;
    if (jb_src_pread_shared(s->fd, s->root, "/proc/meminfo", s->buf, sizeof s->buf) <= 0) {
        memset(ok, 0, 3);
        return -1;
    }
    jb_parse_meminfo(s->buf, &m);
    v[0] = (double)(m.total - m.available);
    v[1] = (double)m.available;
    v[2] = (double)(m.swap_total - m.swap_free);
    memset(ok, m.found >= 4, 3);
    return m.found >= 4 ? 0 : -1;
}

static void mem_close(void *state)
{
    mem_state *s = state;
    if (!s) return;
    close(s->fd);
    free(s);
}

const jb_source_driver jb_src_memory = {
    .name = "memory",
    .description = "system memory from /proc/meminfo (used, available, swap used)",
    .in_default = true,
    .probe = mem_probe,
    .open = mem_open,
    .read = mem_read,
    .close = mem_close,
};

/*
 * net.c — network bytes received and sent, summed over all interfaces but
 * lo (option net.include_lo=1 adds it; net.interfaces=eth0,wlan0 picks some),
 * from /proc/net/dev (counters).
 */
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct net_state {
    int fd;
    bool include_lo;
    char only[256]; /* ",eth0,wlan0," or "" for all */
    char buf[16384];
} net_state;

static bool wanted(const net_state *s, const char *ifname)
{
    if (s->only[0]) {
        char key[72];
        snprintf(key, sizeof key, ",%s,", ifname);
        return strstr(s->only, key) != NULL;
    }
    return s->include_lo || strcmp(ifname, "lo");
}

/* Lines: "  eth0: rx_bytes rx_packets … (8 fields) tx_bytes …" after 2 headers. */
static int sum_bytes(const net_state *s, const char *p, unsigned long long *rx,
                     unsigned long long *tx)
{
    *rx = *tx = 0;
    p = jb_next_line(jb_next_line(p));
    for (; *p; p = jb_next_line(p)) {
        while (*p == ' ')
            p++;
        const char *colon = strchr(p, ':');
        const char *nl = strchr(p, '\n');
        if (!colon || (nl && colon > nl)) continue;
        char name[64];
        size_t n = (size_t)(colon - p);
        if (n >= sizeof name) continue;
        memcpy(name, p, n);
        name[n] = 0;
        const char *q = colon + 1;
        unsigned long long r = jb_parse_ull(&q);
        for (int i = 0; i < 7; i++)
            jb_parse_ull(&q);
        unsigned long long t = jb_parse_ull(&q);
        if (wanted(s, name)) {
            *rx += r;
            *tx += t;
        }
    }
    return 0;
}

static int net_probe(const jb_source_env *env, char *reason, size_t rcap, char *fix, size_t fcap)
{
    char buf[256];
    if (jb_read_file(env->root, "/proc/net/dev", buf, sizeof buf) < 0) {
        jb_src_explain_access("/proc/net/dev", errno, reason, rcap, fix, fcap);
        return 0;
    }
    return 1;
}

static int net_open(const jb_source_env *env, void **state, jb_channel_list *ch, jb_err *err)
{
    net_state *s = calloc(1, sizeof *s);
    if (!s) return jb_errf(err, "net: out of memory");
    s->fd = jb_src_open_file(env, "/proc/net/dev", err);
    if (s->fd < 0) {
        free(s);
        return -1;
    }
    const char *lo = jb_source_opt_get(env, "net", "include_lo");
    s->include_lo = lo && strcmp(lo, "0") && strcmp(lo, "false");
    const char *only = jb_source_opt_get(env, "net", "interfaces");
    if (only && *only) snprintf(s->only, sizeof s->only, ",%s,", only);
    jb_channel_add(ch, "net/received", "B", JB_KIND_COUNTER, JB_ROLE_NONE, false);
    jb_channel_add(ch, "net/sent", "B", JB_KIND_COUNTER, JB_ROLE_NONE, false);
    *state = s;
    return 0;
}

static int net_read(void *state, int64_t now_ns, double *v, uint8_t *ok)
{
    net_state *s = state;
    unsigned long long rx, tx;
    (void)now_ns;
    if (jb_src_pread_all(s->fd, s->buf, sizeof s->buf) <= 0) {
        memset(ok, 0, 2);
        return -1;
    }
    sum_bytes(s, s->buf, &rx, &tx);
    v[0] = (double)rx;
    v[1] = (double)tx;
    memset(ok, 1, 2);
    return 0;
}

static void net_close(void *state)
{
    net_state *s = state;
    if (!s) return;
    close(s->fd);
    free(s);
}

const jb_source_driver jb_src_net = {
    .name = "net",
    .description = "network bytes in/out from /proc/net/dev (all interfaces but lo)",
    .in_default = true,
    .probe = net_probe,
    .open = net_open,
    .read = net_read,
    .close = net_close,
};

/*
 * disk.c — bytes read and written by whole disks, from /proc/diskstats
 * (counters, summed over disks). Partitions, loop, ram, zram and device-mapper
 * devices are skipped so nothing is counted twice. A whole disk is one with a
 * directory /sys/block/<name>; without /sys (a fake tree) a name heuristic is
 * used. Sectors are 512 bytes in diskstats whatever the device's sector size.
 */
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DISK_MAX 64

typedef struct disk_state {
    int fd;
    int ndisks;
    char disks[DISK_MAX][32];
    char buf[65536];
} disk_state;

static bool skipped_name(const char *n)
{
    return !strncmp(n, "loop", 4) || !strncmp(n, "ram", 3) || !strncmp(n, "zram", 4) ||
           !strncmp(n, "dm-", 3) || !strncmp(n, "md", 2) || !strncmp(n, "sr", 2) ||
           !strncmp(n, "fd", 2);
}

static bool is_whole_disk(const jb_source_env *env, const char *name)
{
    if (skipped_name(name)) return false;
    char rel[128], full[4096];
    struct stat st;
    jb_path(full, sizeof full, env->root, "/sys/block");
    if (stat(full, &st) == 0) {
        snprintf(rel, sizeof rel, "/sys/block/%s", name);
        jb_path(full, sizeof full, env->root, rel);
        return stat(full, &st) == 0;
    }
    /* No /sys: sda, vda, xvda, nvme0n1, mmcblk0 are disks; sda1, nvme0n1p1 are not. */
    size_t n = strlen(name);
    if (!strncmp(name, "nvme", 4) || !strncmp(name, "mmcblk", 6)) return !strchr(name, 'p');
    return n && !(name[n - 1] >= '0' && name[n - 1] <= '9');
}

/* Fields: major minor name reads merged sectors_read ms writes merged sectors_written … */
static int parse_line(const char *p, char *name, size_t ncap, unsigned long long *rd,
                      unsigned long long *wr)
{
    jb_parse_ull(&p);
    jb_parse_ull(&p);
    size_t i = 0;
    while (*p && *p != ' ' && *p != '\n' && i + 1 < ncap)
        name[i++] = *p++;
    name[i] = 0;
    if (!i) return -1;
    jb_parse_ull(&p);
    jb_parse_ull(&p);
    *rd = jb_parse_ull(&p) * 512ULL;
    jb_parse_ull(&p);
    jb_parse_ull(&p);
    jb_parse_ull(&p);
    *wr = jb_parse_ull(&p) * 512ULL;
    return 0;
}

static int disk_probe(const jb_source_env *env, char *reason, size_t rcap, char *fix, size_t fcap)
{
    char buf[256];
    if (jb_read_file(env->root, "/proc/diskstats", buf, sizeof buf) < 0) {
        jb_src_explain_access("/proc/diskstats", errno, reason, rcap, fix, fcap);
        return 0;
    }
    return 1;
}

static int disk_open(const jb_source_env *env, void **state, jb_channel_list *ch, jb_err *err)
{
    disk_state *s = calloc(1, sizeof *s);
    if (!s) return jb_errf(err, "disk: out of memory");
    s->fd = jb_src_open_file(env, "/proc/diskstats", err);
    if (s->fd < 0) {
        free(s);
        return -1;
    }
    jb_src_pread_all(s->fd, s->buf, sizeof s->buf);
    for (const char *p = s->buf; *p && s->ndisks < DISK_MAX; p = jb_next_line(p)) {
        char name[32];
        unsigned long long rd, wr;
        if (parse_line(p, name, sizeof name, &rd, &wr) == 0 && is_whole_disk(env, name))
            snprintf(s->disks[s->ndisks++], sizeof s->disks[0], "%s", name);
    }
    jb_channel_add(ch, "disk/read", "B", JB_KIND_COUNTER, JB_ROLE_NONE, false);
    jb_channel_add(ch, "disk/written", "B", JB_KIND_COUNTER, JB_ROLE_NONE, false);
    *state = s;
    return 0;
}

static int disk_read(void *state, int64_t now_ns, double *v, uint8_t *ok)
{
    disk_state *s = state;
    (void)now_ns;
    if (jb_src_pread_all(s->fd, s->buf, sizeof s->buf) < 0) {
        memset(ok, 0, 2);
        return -1;
    }
    unsigned long long rd_sum = 0, wr_sum = 0;
    for (const char *p = s->buf; *p; p = jb_next_line(p)) {
        char name[32];
        unsigned long long rd, wr;
        if (parse_line(p, name, sizeof name, &rd, &wr)) continue;
        for (int i = 0; i < s->ndisks; i++)
            if (!strcmp(name, s->disks[i])) {
                rd_sum += rd;
                wr_sum += wr;
                break;
            }
    }
    v[0] = (double)rd_sum;
    v[1] = (double)wr_sum;
    memset(ok, 1, 2);
    return 0;
}

static void disk_close(void *state)
{
    disk_state *s = state;
    if (!s) return;
    close(s->fd);
    free(s);
}

const jb_source_driver jb_src_disk = {
    .name = "disk",
    .description = "bytes read/written by whole disks from /proc/diskstats",
    .in_default = true,
    .probe = disk_probe,
    .open = disk_open,
    .read = disk_read,
    .close = disk_close,
};

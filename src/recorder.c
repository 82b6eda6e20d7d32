/*
 * recorder.c — receives marker datagrams for `joulebench measure` / `run`
 * (recorder.h). One thread waits in ppoll() on the socket (or, while napping,
 * only on the eventfd used to stop it), takes datagrams in batches with
 * recvmmsg, parses them and
 * appends them to a queue guarded by a mutex; jb_recorder_drain() swaps the
 * queue out under the lock and calls back outside it, so the receive thread
 * is never held up by the store.
 *
 * Waking: a thread blocked on the socket makes every send wake it, which on
 * the development VM is a cross-CPU wakeup costing the workload's send ~8-10
 * us of its ~1.2 us total (bench/markers/README.md). So while markers flow at
 * least one per NAP_MAX_US, the thread stops waiting on the socket and naps
 * (NAP_MIN_US..NAP_MAX_US, sized from the observed rate so that about
 * NAP_TARGET datagrams wait per nap): sends then wake nobody, and the thread
 * wakes less often than once per marker. It blocks on the socket again when
 * a drain finds the kernel queue near its cap (net.unix.max_dgram_qlen, 10
 * here: a sender may be waiting for room), when markers come faster than a
 * NAP_MIN_US nap could hold (the thread is kept busy anyway, as before), when
 * they come sparser than one per NAP_MAX_US, or after IDLE_BLOCK_US without
 * any, so a flood drains as fast as before and an idle recorder costs no CPU.
 *
 * Note on buffers: SO_RCVBUF is raised to 4 MiB as asked, but for AF_UNIX
 * datagrams the kernel limits the receive queue by count
 * (net.unix.max_dgram_qlen, often 10) and charges memory to the sender. What
 * keeps a flood lossless is this thread draining fast in batches plus the
 * client's short wait for room (lib/joulebench.c).
 */
#include "recorder.h"
#include "marker.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define BATCH 64
#define NAP_MIN_US 50      /* shortest nap while markers flow */
#define NAP_MAX_US 500     /* longest nap while markers flow */
#define NAP_TARGET 4       /* datagrams per nap aimed at: well under the kernel's cap */
#define NAP_FULL 8         /* a drain this big: the queue may have been full, block */
#define IDLE_BLOCK_US 1000 /* nothing for this long: block on the socket again */
#define DGRAM_BUF 1024     /* > JB_MARKER_MAX_LEN so over-long datagrams are seen as such */

typedef struct entry {
    bool bad;
    jb_marker m; /* valid marker; for a bad one only m.recv_ns is used */
    char reason[40];
    char *raw; /* bad only: first 512 bytes, malloc'd */
    size_t rawlen;
} entry;

typedef struct queue {
    entry *e;
    size_t n, cap;
} queue;

struct jb_recorder {
    char dir[90]; /* + "/markers.sock" must fit sun_path (108) */
    char path[108];
    int fd, stopfd;
    pthread_t thread;
    bool thread_running, stopped;
    pthread_mutex_t lock;
    queue q;
    size_t queued_valid;
    uint64_t bad_kept;
    _Atomic uint64_t n_valid, n_bad, n_overflow;
    char (*bufs)[DGRAM_BUF]; /* receive buffers, used by the thread only */
};

static int queue_push(queue *q, const entry *e)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 1024;
        entry *ne = realloc(q->e, cap * sizeof *ne);
        if (!ne) return -1;
        q->e = ne;
        q->cap = cap;
    }
    q->e[q->n++] = *e;
    return 0;
}

static void queue_free(queue *q)
{
    for (size_t i = 0; i < q->n; i++)
        free(q->e[i].raw);
    free(q->e);
    memset(q, 0, sizeof *q);
}

/* Called with the lock held. */
static void take_datagram(jb_recorder *r, const char *buf, size_t len, int64_t recv_ns)
{
    entry e = {0};
    if (jb_marker_parse(buf, len, &e.m, e.reason, sizeof e.reason) == 0) {
        atomic_fetch_add(&r->n_valid, 1);
        if (r->queued_valid >= JB_RECORDER_MAX_QUEUED) {
            atomic_fetch_add(&r->n_overflow, 1);
            return;
        }
        e.m.recv_ns = recv_ns;
        if (queue_push(&r->q, &e))
            atomic_fetch_add(&r->n_overflow, 1);
        else
            r->queued_valid++;
        return;
    }
    atomic_fetch_add(&r->n_bad, 1);
    if (r->bad_kept >= JB_RECORDER_MAX_BAD_KEPT) return;
    e.bad = true;
    e.m.recv_ns = recv_ns;
    e.rawlen = len > JB_MARKER_MAX_LEN ? JB_MARKER_MAX_LEN : len;
    e.raw = malloc(e.rawlen ? e.rawlen : 1);
    if (!e.raw) return;
    memcpy(e.raw, buf, e.rawlen);
    if (queue_push(&r->q, &e)) {
        free(e.raw);
        return;
    }
    r->bad_kept++;
}

/* Receive until the socket is empty; returns how many datagrams came. */
static int receive_all(jb_recorder *r)
{
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    int total = 0;
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){.iov_base = r->bufs[i], .iov_len = DGRAM_BUF};
            msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
        }
        int n = recvmmsg(r->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return total;
        total += n;
        int64_t now = jb_mono_ns() + jb_clock_offset_ns();
        pthread_mutex_lock(&r->lock);
        for (int i = 0; i < n; i++) {
            size_t len = msgs[i].msg_len;
            if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) len = DGRAM_BUF; /* over-long */
            take_datagram(r, r->bufs[i], len, now);
        }
        pthread_mutex_unlock(&r->lock);
    }
}

/* The next nap, from how many datagrams the last drain took and how long
 * since the drain before it (in both modes: a blocked thread is woken by the
 * first datagram, so that gap is the time between datagrams). 0 means block
 * on the socket. Naps are only taken while at least one datagram per nap is
 * expected, so napping hardly ever wakes this thread more often than blocking
 * would have (each wakeup, by a timer or by a send, costs this thread 10-30
 * us of CPU on the development VM); when the queue was near its cap a sender
 * may be waiting for room, so the thread blocks and is woken at once. */
static int next_nap_us(int nap_us, int got, int64_t gap_ns, int *idle_us)
{
    if (got >= NAP_FULL) return 0;
    if (got == 0) {
        if (nap_us == 0) return 0;
        *idle_us += nap_us;
        if (*idle_us >= IDLE_BLOCK_US) return 0;
        return nap_us * 2 < NAP_MAX_US ? nap_us * 2 : NAP_MAX_US;
    }
    *idle_us = 0;
    int64_t per_us = gap_ns / 1000 / got; /* time between datagrams */
    if (per_us > NAP_MAX_US) return 0;    /* sparse: a nap would mostly find nothing */
    int64_t want = per_us * NAP_TARGET;
    int64_t most = nap_us ? 2 * (int64_t)nap_us : NAP_MIN_US * 2; /* a burst may start */
    if (want > most) want = most;
    if (want > NAP_MAX_US) want = NAP_MAX_US;
    return want < NAP_MIN_US ? 0 : (int)want; /* dense: this thread is kept busy anyway */
}

static void *receive_thread(void *arg)
{
    jb_recorder *r = arg;
    prctl(PR_SET_TIMERSLACK, 10000UL); /* naps of 50 us should not become 100 us */
    int nap_us = 0, idle_us = 0;
    int64_t last = jb_mono_ns();
    for (;;) {
        /* napping: watch only the stop eventfd, so a send does not wake this thread */
        struct pollfd p[2] = {{.fd = r->stopfd, .events = POLLIN},
                              {.fd = nap_us ? -1 : r->fd, .events = POLLIN}};
        struct timespec nap = {.tv_nsec = (long)nap_us * 1000};
        if (ppoll(p, 2, nap_us ? &nap : NULL, NULL) < 0 && errno != EINTR) break;
        int64_t now = jb_mono_ns();
        int got = receive_all(r);
        if (p[0].revents) break;
        nap_us = next_nap_us(nap_us, got, now - last, &idle_us);
        if (got) last = now;
    }
    receive_all(r);
    return NULL;
}

static int make_dir_and_socket(jb_recorder *r, jb_err *err)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    int n = snprintf(r->dir, sizeof r->dir, "%s/joulebench.XXXXXX", tmp);
    if (n < 0 || (size_t)n >= sizeof r->dir - sizeof "/markers.sock") {
        r->dir[0] = 0;
        return jb_errf(err,
                       "%s: directory name too long for a unix socket path; set TMPDIR to "
                       "a short directory such as /tmp",
                       tmp);
    }
    if (!mkdtemp(r->dir)) {
        jb_errf(err,
                "%s: cannot create the marker directory: %s; set TMPDIR to a writable "
                "directory",
                tmp, strerror(errno));
        r->dir[0] = 0;
        return -1;
    }
    chmod(r->dir, 0700);
    snprintf(r->path, sizeof r->path, "%s/markers.sock", r->dir);
    r->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (r->fd < 0) return jb_errf(err, "marker socket: %s", strerror(errno));
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, r->path, strlen(r->path) + 1);
    if (bind(r->fd, (struct sockaddr *)&a, sizeof a) < 0)
        return jb_errf(err,
                       "%s: cannot bind the marker socket: %s; check the file system "
                       "under TMPDIR allows sockets",
                       r->path, strerror(errno));
    int rcvbuf = 4 << 20;
    if (setsockopt(r->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
        setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    return 0;
}

int jb_recorder_start(jb_recorder **out, jb_err *err)
{
    *out = NULL;
    jb_recorder *r = calloc(1, sizeof *r);
    if (!r) return jb_errf(err, "marker recorder: out of memory");
    r->fd = r->stopfd = -1;
    pthread_mutex_init(&r->lock, NULL);
    r->bufs = malloc(BATCH * sizeof *r->bufs);
    if (!r->bufs) {
        jb_errf(err, "marker recorder: out of memory");
        goto fail;
    }
    if (make_dir_and_socket(r, err)) goto fail;
    r->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->stopfd < 0) {
        jb_errf(err, "marker recorder: eventfd: %s", strerror(errno));
        goto fail;
    }
    jb_clock_offset_ns(); /* take the offset here, not first on the receive thread */
    int rc = pthread_create(&r->thread, NULL, receive_thread, r);
    if (rc) {
        jb_errf(err, "marker recorder: cannot start the receive thread: %s", strerror(rc));
        goto fail;
    }
    r->thread_running = true;
    *out = r;
    return 0;
fail:
    jb_recorder_free(r);
    return -1;
}

const char *jb_recorder_socket_path(const jb_recorder *r)
{
    return r->path;
}

size_t jb_recorder_drain(jb_recorder *r, jb_marker_cb ok, jb_bad_marker_cb bad, void *ctx)
{
    pthread_mutex_lock(&r->lock);
    queue q = r->q;
    memset(&r->q, 0, sizeof r->q);
    r->queued_valid = 0;
    pthread_mutex_unlock(&r->lock);
    for (size_t i = 0; i < q.n; i++) {
        const entry *e = &q.e[i];
        if (!e->bad && ok) ok(ctx, &e->m);
        if (e->bad && bad) bad(ctx, e->m.recv_ns, e->reason, e->raw, e->rawlen);
    }
    size_t n = q.n;
    queue_free(&q);
    return n;
}

void jb_recorder_counts(const jb_recorder *r, uint64_t *valid, uint64_t *bad)
{
    jb_recorder *w = (jb_recorder *)r; /* atomics loads need a non-const object */
    if (valid) *valid = atomic_load(&w->n_valid);
    if (bad) *bad = atomic_load(&w->n_bad);
}

uint64_t jb_recorder_overflow(const jb_recorder *r)
{
    return atomic_load(&((jb_recorder *)r)->n_overflow);
}

void jb_recorder_stop(jb_recorder *r)
{
    if (!r || r->stopped) return;
    r->stopped = true;
    if (r->thread_running) {
        uint64_t one = 1;
        if (write(r->stopfd, &one, sizeof one) < 0) { /* cannot fail on a fresh eventfd */
        }
        pthread_join(r->thread, NULL);
        r->thread_running = false;
    }
    if (r->fd >= 0) close(r->fd);
    if (r->stopfd >= 0) close(r->stopfd);
    r->fd = r->stopfd = -1;
    if (r->path[0]) unlink(r->path);
    if (r->dir[0]) rmdir(r->dir);
}

void jb_recorder_free(jb_recorder *r)
{
    if (!r) return;
    jb_recorder_stop(r);
    queue_free(&r->q);
    free(r->bufs);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

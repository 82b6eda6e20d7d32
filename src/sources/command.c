/*
 * command.c — any meter a script can reach (GUDE PDUs over HTTP/SNMP, IPMI
 * DCMI, smart plugs, serial meters): a user command that prints one number
 * per line.
 *
 * Options (command.<key>):
 *   cmd        the command. Split on blanks, no shell, no quoting:
 *              "ipmi-dcmi-watts --interval 1". For arguments with blanks give
 *              a JSON array: ["sh", "-c", "ipmi-dcmi --get-system-power-statistics | awk ..."].
 *   mode       watts (default: a power channel "command/power", W) or joules
 *              (cumulative joules: an energy_counter "command/energy"; a value
 *              that goes down is taken as a counter restart and accumulated).
 *   per_sample 0 (default): one long-running child streams lines; read()
 *              drains its pipe without blocking and uses the latest value.
 *              1: the command is run once per sample and must print one
 *              number and exit within timeout_ms (default 1000), else it is
 *              killed and the sample is a gap.
 *   stale      streaming only: a value older than this is a gap (duration,
 *              default 5s) — a meter that stopped printing is not held.
 *   name       channel name suffix (default power / energy).
 *
 * A line that is not one finite number (surrounding blanks allowed) is counted
 * and makes the channel a gap until the next good line; a streaming child
 * that exits leaves gaps (it is not restarted). stdin is /dev/null;
 * stderr is inherited so the command's own errors stay visible. The streaming
 * child is stopped (SIGTERM, then SIGKILL after 200 ms) when the source closes.
 * Scope: the wall (these meters usually measure the whole machine); the one
 * channel is the source's TOTAL.
 */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CMD_MAX_ARGS 64
#define CMD_LINE_MAX 4096

extern char **environ;

typedef struct cmd_state {
    char *argv[CMD_MAX_ARGS + 1];
    bool joules, per_sample;
    int timeout_ms;
    int64_t stale_ns;
    pid_t pid; /* streaming child, 0 when none */
    int fd;
    bool eof;
    char line[CMD_LINE_MAX];
    size_t len;
    bool have, last_bad;
    double value;
    int64_t value_ns;
    double raw_last, offset; /* joules: counter restarts */
    unsigned long bad_lines;
} cmd_state;

/* One finite number, blanks around it allowed. */
int jb_command_parse_value(const char *line, double *v)
{
    char *end;
    while (*line == ' ' || *line == '\t')
        line++;
    if (!*line) return -1;
    errno = 0;
    double x = strtod(line, &end);
    if (end == line || errno || !isfinite(x)) return -1;
    while (*end == ' ' || *end == '\t' || *end == '\r')
        end++;
    if (*end) return -1;
    *v = x;
    return 0;
}

static void free_argv(cmd_state *s)
{
    for (int i = 0; s->argv[i]; i++)
        free(s->argv[i]);
    s->argv[0] = NULL;
}

static int split_json(cmd_state *s, const char *cmd, jb_err *err)
{
    json_object *a = json_tokener_parse(cmd);
    int n = a && json_object_is_type(a, json_type_array) ? (int)json_object_array_length(a) : -1;
    if (n < 1 || n > CMD_MAX_ARGS) {
        json_object_put(a);
        return jb_errf(err, "command.cmd=%s: not a JSON array of 1 to %d strings", cmd,
                       CMD_MAX_ARGS);
    }
    for (int i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(a, (size_t)i);
        if (!json_object_is_type(e, json_type_string)) {
            json_object_put(a);
            free_argv(s);
            return jb_errf(err, "command.cmd: element %d of the JSON array is not a string", i);
        }
        s->argv[i] = strdup(json_object_get_string(e));
        s->argv[i + 1] = NULL;
    }
    json_object_put(a);
    return 0;
}

static int split_cmd(cmd_state *s, const char *cmd, jb_err *err)
{
    if (!cmd || !*cmd)
        return jb_errf(err, "command: no command configured; set command.cmd (e.g. "
                            "command.cmd=\"my-meter --watts\")");
    while (*cmd == ' ')
        cmd++;
    if (*cmd == '[') return split_json(s, cmd, err);
    int n = 0;
    for (const char *p = cmd; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p) break;
        size_t l = strcspn(p, " \t");
        if (n == CMD_MAX_ARGS) {
            free_argv(s);
            return jb_errf(err, "command.cmd: more than %d arguments", CMD_MAX_ARGS);
        }
        s->argv[n++] = strndup(p, l);
        s->argv[n] = NULL;
        p += l;
    }
    if (n == 0) return jb_errf(err, "command.cmd is blank; give the meter command to run");
    return 0;
}

static int parse_options(const jb_source_env *env, cmd_state *s, jb_err *err)
{
    const char *mode = jb_source_opt_get(env, "command", "mode");
    if (mode && strcmp(mode, "watts") && strcmp(mode, "joules"))
        return jb_errf(err, "command.mode=%s: use watts (default) or joules", mode);
    s->joules = mode && !strcmp(mode, "joules");
    const char *ps = jb_source_opt_get(env, "command", "per_sample");
    s->per_sample = ps && strcmp(ps, "0") && strcmp(ps, "false");
    const char *to = jb_source_opt_get(env, "command", "timeout_ms");
    s->timeout_ms = to ? atoi(to) : 1000;
    if (s->timeout_ms < 1 || s->timeout_ms > 600000)
        return jb_errf(err, "command.timeout_ms=%s: expected 1 to 600000", to);
    const char *st = jb_source_opt_get(env, "command", "stale");
    s->stale_ns = 5000000000LL;
    if (st && (jb_parse_duration(st, &s->stale_ns) || s->stale_ns <= 0))
        return jb_errf(err, "command.stale=%s: expected a duration like 5s or 500ms", st);
    return split_cmd(s, jb_source_opt_get(env, "command", "cmd"), err);
}

/* Start argv with stdout on a non-blocking pipe. */
static int spawn(cmd_state *s, jb_err *err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return jb_errf(err, "command: pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    int rc = posix_spawnp(&s->pid, s->argv[0], &fa, NULL, s->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (rc) {
        close(p[0]);
        s->pid = 0;
        return jb_errf(err, "command: cannot run %s: %s; check command.cmd and PATH", s->argv[0],
                       strerror(rc));
    }
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    s->fd = p[0];
    s->eof = false;
    s->len = 0;
    return 0;
}

static void stop_child(cmd_state *s)
{
    if (s->pid <= 0) return;
    kill(s->pid, SIGTERM);
    for (int i = 0; i < 20; i++) {
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            s->pid = 0;
            break;
        }
        usleep(10000);
    }
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
    close(s->fd);
    s->fd = -1;
}

static void take_line(cmd_state *s, const char *line, int64_t now_ns)
{
    double v;
    if (jb_command_parse_value(line, &v) < 0) {
        s->bad_lines++;
        s->last_bad = true;
        return;
    }
    if (s->joules) {
        if (s->have && v < s->raw_last) s->offset += s->raw_last; /* counter restarted */
        s->raw_last = v;
        v += s->offset;
    }
    s->value = v;
    s->value_ns = now_ns;
    s->have = true;
    s->last_bad = false;
}

/* Read what is there without blocking and take every complete line. */
static void drain(cmd_state *s, int64_t now_ns)
{
    while (!s->eof) {
        ssize_t n = read(s->fd, s->line + s->len, sizeof s->line - 1 - s->len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) s->eof = true;
            break;
        }
        s->len += (size_t)n;
        s->line[s->len] = 0;
        char *start = s->line, *nl;
        while ((nl = memchr(start, '\n', s->len - (size_t)(start - s->line)))) {
            *nl = 0;
            take_line(s, start, now_ns);
            start = nl + 1;
        }
        s->len -= (size_t)(start - s->line);
        memmove(s->line, start, s->len);
        if (s->len == sizeof s->line - 1) { /* a line longer than the buffer: garbage */
            s->bad_lines++;
            s->last_bad = true;
            s->len = 0;
        }
    }
}

/* per_sample: run, wait up to timeout_ms for the output and the exit. */
static int run_once(cmd_state *s, int64_t now_ns)
{
    if (spawn(s, NULL) < 0) return -1;
    int64_t deadline = jb_mono_ns() + (int64_t)s->timeout_ms * 1000000;
    while (!s->eof) {
        int64_t left = deadline - jb_mono_ns();
        if (left <= 0) break;
        struct pollfd pfd = {s->fd, POLLIN, 0};
        if (poll(&pfd, 1, (int)(left / 1000000) + 1) > 0) drain(s, now_ns);
    }
    bool timed_out = !s->eof;
    if (!timed_out && s->len) { /* a last line without '\n' */
        s->line[s->len] = 0;
        take_line(s, s->line, now_ns);
        s->len = 0;
    }
    stop_child(s);
    return timed_out ? -1 : 0;
}

static void cmd_close(void *state)
{
    cmd_state *s = state;
    if (!s) return;
    stop_child(s);
    free_argv(s);
    free(s);
}

static int cmd_open(const jb_source_env *env, void **state, jb_channel_list *chans, jb_err *err)
{
    cmd_state *s = calloc(1, sizeof *s);
    if (!s) return jb_errf(err, "command: out of memory");
    s->fd = -1;
    if (parse_options(env, s, err) < 0 || (!s->per_sample && spawn(s, err) < 0)) {
        free_argv(s);
        free(s);
        return -1;
    }
    const char *name = jb_source_opt_get(env, "command", "name");
    char full[64];
    snprintf(full, sizeof full, "command/%s", name ? name : s->joules ? "energy" : "power");
    int idx =
        jb_channel_add(chans, full, s->joules ? "J" : "W",
                       s->joules ? JB_KIND_ENERGY_COUNTER : JB_KIND_POWER, JB_ROLE_TOTAL, false);
    if (idx >= 0) {
        jb_buf cmdline = {0};
        for (int i = 0; s->argv[i]; i++)
            jb_buf_printf(&cmdline, "%s%s", i ? " " : "", s->argv[i]);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "cmd", json_object_new_string(cmdline.data));
        json_object_object_add(o, "per_sample", json_object_new_boolean(s->per_sample));
        snprintf(chans->ch[idx].meta, sizeof chans->ch[idx].meta, "%s",
                 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        jb_buf_free(&cmdline);
    }
    *state = s;
    return 0;
}

static int cmd_read(void *state, int64_t now_ns, double *values, uint8_t *ok)
{
    cmd_state *s = state;
    if (s->per_sample) {
        s->last_bad = true; /* no line this time counts as bad */
        int rc = run_once(s, now_ns);
        ok[0] = rc == 0 && !s->last_bad;
    } else {
        drain(s, now_ns);
        ok[0] = s->have && !s->last_bad && !s->eof && now_ns - s->value_ns <= s->stale_ns;
    }
    if (ok[0]) values[0] = s->value;
    return ok[0] ? 0 : -1;
}

/* Lines that were not a number so far (for the run's log). */
unsigned long jb_command_bad_lines(void *state)
{
    return ((cmd_state *)state)->bad_lines;
}

static bool on_path(const char *prog)
{
    if (strchr(prog, '/')) return access(prog, X_OK) == 0;
    const char *path = getenv("PATH");
    char buf[4096];
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t l = strcspn(p, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)l, p, prog);
        if (access(buf, X_OK) == 0) return true;
        p += l + (p[l] == ':');
    }
    return false;
}

static int cmd_probe(const jb_source_env *env, char *reason, size_t rcap, char *fix, size_t fcap)
{
    cmd_state *s = calloc(1, sizeof *s);
    jb_err err;
    if (!s) return 0;
    int usable = 0;
    if (parse_options(env, s, &err) < 0) {
        snprintf(reason, rcap, "%s", err.msg);
        snprintf(fix, fcap,
                 "set command.cmd to a program that prints watts (or, with "
                 "command.mode=joules, cumulative joules) one number per line");
    } else if (!on_path(s->argv[0])) {
        snprintf(reason, rcap, "command.cmd: %s: not found or not executable", s->argv[0]);
        snprintf(fix, fcap, "install it, give its full path, or add its directory to PATH");
    } else {
        usable = 1;
    }
    free_argv(s);
    free(s);
    return usable;
}

const jb_source_driver jb_src_command = {
    .name = "command",
    .description = "any meter through a command that prints watts (or joules) per line",
    .is_power = true,
    .in_default = false,
    .scope = JB_SCOPE_WALL,
    .family = "wall",
    .probe = cmd_probe,
    .open = cmd_open,
    .read = cmd_read,
    .close = cmd_close,
};

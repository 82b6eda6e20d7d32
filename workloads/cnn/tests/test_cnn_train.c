/*
 * test_cnn_train.c — end-to-end training of jb-cnn on generated data: the own
 * CNN reaches > 90 % validation accuracy on an easy 3-class set within a few
 * seconds, the same seed and thread count give identical numbers, the
 * markers arrive on a JOULEBENCH_SOCKET in the documented order, and the
 * transfer path (pretrain MobileNetV2 on another task, save, load the
 * backbone, freeze it, train a new head) runs and rejects a wrong checkpoint;
 * idle mode loads, waits once, and fails before waiting on bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "synth.h"
#include "train.h"

static char dir[256], easy[300], pre[300], flowers[300];
static FILE *devnull;

static int setup(void **st)
{
    jb_err err;
    snprintf(dir, sizeof(dir), "/tmp/test_cnn_train.XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(easy, sizeof(easy), "%s/easy", dir);
    snprintf(pre, sizeof(pre), "%s/pre", dir);
    snprintf(flowers, sizeof(flowers), "%s/flowers", dir);
    devnull = fopen("/dev/null", "w");
    if (cnn_synth_write(easy, CNN_SYNTH_FLOWERS, 3, 60, 32, 7, 1, &err) < 0 ||
        cnn_synth_write(pre, CNN_SYNTH_PRETRAIN, 5, 12, 32, 8, 0, &err) < 0 ||
        cnn_synth_write(flowers, CNN_SYNTH_FLOWERS, 5, 12, 32, 9, 0, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **st)
{
    char cmd[512];
    fclose(devnull);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

static void easy_cfg(cnn_train_cfg *c)
{
    cnn_train_defaults(c);
    c->data = easy;
    c->size = 32;
    c->epochs = 8;
    c->threads = 1;
    c->seed = 1;
    c->out = devnull;
}

static void test_easy_set_learns(void **st)
{
    cnn_train_cfg c;
    cnn_train_result r;
    jb_err err;
    easy_cfg(&c);
    c.flip = 1;
    if (cnn_train_run(&c, &r, &err) < 0) fail_msg("%s", err.msg);
    assert_int_equal(r.classes, 3);
    assert_int_equal(r.n_train + r.n_val, 180);
    if (r.val_acc <= 0.9) fail_msg("validation accuracy %.3f, expected > 0.9", r.val_acc);
    assert_true(r.val_f1 > 0.85);
}

static void test_same_seed_same_result(void **st)
{
    cnn_train_cfg c;
    cnn_train_result a, b, d;
    jb_err err;
    easy_cfg(&c);
    c.epochs = 2;
    c.flip = 1;
    c.threads = 2; /* determinism must hold with several threads too */
    assert_int_equal(cnn_train_run(&c, &a, &err), 0);
    assert_int_equal(cnn_train_run(&c, &b, &err), 0);
    assert_true(a.train_loss == b.train_loss);
    assert_true(a.val_loss == b.val_loss);
    c.seed = 2;
    assert_int_equal(cnn_train_run(&c, &d, &err), 0);
    assert_true(a.train_loss != d.train_loss);
}

/* Append "kind name [index]" of one datagram (value dropped) to all. */
static void append_marker(char *all, size_t cap, const char *dgram)
{
    char kind[16], name[80], rest[64] = "", line[200];
    unsigned long long ts;
    int pid;
    if (sscanf(dgram, "v1 %llu %d %15s %79s %63[^\n]", &ts, &pid, kind, name, rest) < 4) return;
    char *sp = strchr(rest, ' ');
    if (sp) *sp = 0;
    snprintf(line, sizeof(line), "%s %s%s%s\n", kind, name, *rest ? " " : "", rest);
    strncat(all, line, cap - strlen(all) - 1);
}

static void test_markers(void **st)
{
    char sock[400];
    snprintf(sock, sizeof(sock), "%s/m.sock", dir);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    int big = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    /* the built binary in a child, as joulebench runs it (the marker client
     * reads JOULEBENCH_SOCKET once per process) */
    char bin[400];
    const char *build = getenv("BUILD");
    snprintf(bin, sizeof(bin), "%s/jb-cnn", build && *build ? build : "build");
    if (access(bin, X_OK) != 0) skip();
    pid_t child = fork();
    if (child == 0) {
        setenv("JOULEBENCH_SOCKET", sock, 1);
        int nul = open("/dev/null", O_WRONLY);
        dup2(nul, 1);
        execl(bin, bin, "train", "--data", easy, "--size", "32", "--epochs", "2", "--threads", "1",
              (char *)NULL);
        _exit(127);
    }
    /* read while the child runs: a unix datagram queue holds only ~10 */
    struct timeval tv = {0, 20000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char all[8192] = "", buf[512];
    int status = -1, done = 0;
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n > 0) {
            buf[n] = 0;
            append_marker(all, sizeof(all), buf);
            continue;
        }
        if (done) break;
        if (waitpid(child, &status, WNOHANG) == child) done = 1; /* drain once more, then stop */
    }
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fd);
    const char *order[] = {
        "begin preprocessing\n",   "end preprocessing\n",  "begin epoch 1\n",
        "begin train 1\n",         "end train 1\n",        "metric loss 1\n",
        "metric accuracy 1\n",     "begin validation 1\n", "end validation 1\n",
        "metric val_accuracy 1\n", "metric val_f1 1\n",    "metric val_correct 1\n",
        "end epoch 1\n",           "begin epoch 2\n",      "end epoch 2\n",
        "begin classification\n",  "end classification\n", "metric test_accuracy",
        "metric test_f1",          "metric correct"};
    const char *at = all;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        const char *hit = strstr(at, order[i]);
        if (!hit) fail_msg("marker '%s' missing or out of order in:\n%s", order[i], all);
        at = hit;
    }
}

static void test_transfer(void **st)
{
    cnn_train_cfg c;
    cnn_train_result r;
    jb_err err;
    char base[400], ownck[400];
    snprintf(base, sizeof(base), "%s/base.ckpt", dir);
    snprintf(ownck, sizeof(ownck), "%s/own.ckpt", dir);
    cnn_train_defaults(&c);
    c.out = devnull;
    c.model = CNN_MODEL_MOBILENETV2;
    c.alpha = 0.35f;
    c.size = 32;
    c.epochs = 1;
    c.threads = 1;
    c.data = pre;
    c.save = base;
    assert_int_equal(cnn_train_run(&c, &r, &err), 0);
    assert_int_equal(r.classes, 5);
    c.data = flowers;
    c.save = NULL;
    c.init_from = base;
    c.freeze_backbone = 1;
    if (cnn_train_run(&c, &r, &err) < 0) fail_msg("%s", err.msg);
    assert_int_equal(r.n_train + r.n_val, 60);
    /* an own-CNN checkpoint cannot seed MobileNetV2 */
    cnn_train_cfg o;
    cnn_train_defaults(&o);
    o.out = devnull;
    o.data = pre;
    o.size = 32;
    o.epochs = 0;
    o.save = ownck;
    assert_int_equal(cnn_train_run(&o, &r, &err), 0);
    c.init_from = ownck;
    assert_int_equal(cnn_train_run(&c, &r, &err), -1);
    assert_non_null(strstr(err.msg, "model own"));
}

static int idle_waits;
static void count_wait(void)
{
    idle_waits++;
}

/* Idle mode loads like train, then waits once; on bad input it fails before
 * waiting, with the same messages as train. */
static void test_idle(void **st)
{
    cnn_train_cfg c;
    jb_err err;
    char missing[400];
    easy_cfg(&c);
    idle_waits = 0;
    if (cnn_idle_run(&c, count_wait, &err) < 0) fail_msg("%s", err.msg);
    assert_int_equal(idle_waits, 1);
    snprintf(missing, sizeof(missing), "%s/missing", dir);
    c.data = missing;
    assert_int_equal(cnn_idle_run(&c, count_wait, &err), -1);
    assert_non_null(strstr(err.msg, missing));
    c.data = easy;
    c.batch = 0;
    assert_int_equal(cnn_idle_run(&c, count_wait, &err), -1);
    assert_non_null(strstr(err.msg, "--batch"));
    assert_int_equal(idle_waits, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_easy_set_learns),
        cmocka_unit_test(test_same_seed_same_result),
        cmocka_unit_test(test_markers),
        cmocka_unit_test(test_transfer),
        cmocka_unit_test(test_idle),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

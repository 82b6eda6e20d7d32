/*
 * test_marker.c — the v1 marker line: formatter (lib/joulebench.c) and parser
 * (src/marker.c). Valid forms, every rejection reason, format/parse round
 * trips, and random bytes and truncated lines that must be rejected cleanly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "marker.h"
#include "store.h"

static int parse(const char *s, jb_marker *m, char *why)
{
    return jb_marker_parse(s, strlen(s), m, why, 64);
}

static void test_valid_forms(void **state)
{
    jb_marker m;
    char why[64];
    assert_int_equal(parse("v1 1764200000123456789 4242 begin epoch 3", &m, why), 0);
    assert_true(m.t_ns == 1764200000123456789LL);
    assert_int_equal(m.pid, 4242);
    assert_string_equal(m.kind, "begin");
    assert_string_equal(m.name, "epoch");
    assert_true(m.has_index);
    assert_int_equal(m.index, 3);
    assert_false(m.has_value);

    assert_int_equal(parse("v1 1764200000923456789 4242 metric val_accuracy 3 0.8731\n", &m, why),
                     0);
    assert_string_equal(m.kind, "metric");
    assert_true(m.has_index && m.index == 3);
    assert_true(m.has_value);
    assert_true(m.value == 0.8731);

    assert_int_equal(parse("v1 5 1 metric loss -1.5e-3", &m, why), 0);
    assert_false(m.has_index);
    assert_true(m.value == -1.5e-3);

    assert_int_equal(parse("v1 5 1 end train", &m, why), 0);
    assert_false(m.has_index);
    assert_int_equal(parse("v1 5 1 event checkpoint/saved:ok-1.2_x", &m, why), 0);
    assert_string_equal(m.name, "checkpoint/saved:ok-1.2_x");
    assert_int_equal(parse("v1 5 1 begin step -7", &m, why), 0);
    assert_int_equal(m.index, -7);
    /* metric whose value looks like an integer: it is the value, not the index */
    assert_int_equal(parse("v1 5 1 metric correct 42", &m, why), 0);
    assert_false(m.has_index);
    assert_true(m.value == 42.0);
    /* 64-character name, largest timestamp */
    char line[200];
    snprintf(line, sizeof line, "v1 9223372036854775807 1 begin %064d", 0);
    assert_int_equal(parse(line, &m, why), 0);
    assert_true(m.t_ns == INT64_MAX);
    assert_int_equal(strlen(m.name), 64);
}

static void expect_reject(const char *line, size_t len, const char *reason)
{
    jb_marker m;
    char why[64] = "";
    assert_int_equal(jb_marker_parse(line, len, &m, why, sizeof why), -1);
    if (strcmp(why, reason))
        fail_msg("'%.*s': got reason '%s', want '%s'", (int)len, line, why, reason);
}

static void reject(const char *line, const char *reason)
{
    expect_reject(line, strlen(line), reason);
}

static void test_rejections(void **state)
{
    reject("", "empty datagram");
    reject("v2 1 1 begin x", "wrong version (want v1)");
    reject("1 1 begin x", "wrong version (want v1)");
    reject("v1 1 1 begin", "missing fields");
    reject("v1 -1 1 begin x", "bad timestamp");
    reject("v1 12x 1 begin x", "bad timestamp");
    reject("v1 9223372036854775808 1 begin x", "bad timestamp");
    reject("v1 1 0 begin x", "bad pid");
    reject("v1 1 -4 begin x", "bad pid");
    reject("v1 1 4294967296 begin x", "bad pid");
    reject("v1 1 1 start x", "bad kind");
    reject("v1 1 1 BEGIN x", "bad kind");
    reject("v1 1 1 begin ep#och", "bad name");
    reject("v1 1 1 begin \"x\"", "bad name");
    char longname[100];
    snprintf(longname, sizeof longname, "v1 1 1 begin %065d", 0);
    reject(longname, "bad name");
    reject("v1 1 1 begin x 1.5", "bad index");
    reject("v1 1 1 begin x 99999999999999999999", "bad index");
    reject("v1 1 1 begin x 1 2", "extra tokens");
    reject("v1 1 1 event x 1 2 3 4 5 6 7", "extra tokens");
    reject("v1 1 1 metric x", "metric without a value");
    reject("v1 1 1 metric x 1 2 3", "extra tokens");
    reject("v1 1 1 metric x 1.5 2", "bad index");
    reject("v1 1 1 metric x abc", "bad value");
    reject("v1 1 1 metric x 1,5", "bad value");
    reject("v1 1 1 metric x 0x10", "bad value");
    reject("v1 1 1 metric x NaN", "non-finite value");
    reject("v1 1 1 metric x -inf", "non-finite value");
    reject("v1 1 1 metric x 3 infinity", "non-finite value");
    reject("v1 1 1 metric x 1e999", "non-finite value");
    reject("v1 1 1 begin x\tx", "control or non-ASCII byte");
    reject("v1 1 1 begin x\n\n", "control or non-ASCII byte");
    reject("v1 1 1 begin \xc3\xa9", "control or non-ASCII byte");
    expect_reject("v1 1 1 begin x\0", 15, "NUL byte");
    char big[600];
    memset(big, 'a', sizeof big);
    memcpy(big, "v1 1 1 begin ", 13);
    expect_reject(big, 513, "too long (over 512 bytes)");
}

static void test_format_roundtrip(void **state)
{
    char line[JB_MARKER_MAX_LEN];
    jb_marker m;
    char why[64];
    int n = jb_marker_format(line, sizeof line, 1764200000923456789LL, 4242, "metric",
                             "val_accuracy", 3, 0.8731);
    assert_string_equal(line, "v1 1764200000923456789 4242 metric val_accuracy 3 0.8731\n");
    assert_int_equal(n, (int)strlen(line));
    n = jb_marker_format(line, sizeof line, 7, 1, "end", "train", JB_MARKER_NO_INDEX, 0);
    assert_string_equal(line, "v1 7 1 end train\n");
    n = jb_marker_format(line, sizeof line, 7, 1, "begin", "step", INT64_MIN + 1, 0);
    assert_int_equal(jb_marker_parse(line, (size_t)n, &m, why, sizeof why), 0);
    assert_true(m.index == INT64_MIN + 1);

    srand(7);
    for (int i = 0; i < 20000; i++) {
        double v = ((double)rand() - RAND_MAX / 2) * pow(10, rand() % 40 - 20) / 3.0;
        int64_t idx = rand() % 3 ? rand() % 1000 : JB_MARKER_NO_INDEX;
        n = jb_marker_format(line, sizeof line, (int64_t)rand() * 1000, 1 + rand() % 100000,
                             "metric", "m", idx, v);
        assert_true(n > 0);
        if (jb_marker_parse(line, (size_t)n, &m, why, sizeof why))
            fail_msg("'%s' rejected: %s", line, why);
        assert_true(m.value == v);
        assert_true(m.has_index == (idx != JB_MARKER_NO_INDEX));
    }
}

static void test_format_rejects(void **state)
{
    char line[JB_MARKER_MAX_LEN];
    assert_int_equal(jb_marker_format(line, sizeof line, 1, 1, "metric", "x", 0, NAN), -1);
    assert_int_equal(jb_marker_format(line, sizeof line, 1, 1, "metric", "x", 0, INFINITY), -1);
    assert_int_equal(jb_marker_format(line, sizeof line, 1, 1, "begin", "a b", 0, 0), -1);
    assert_int_equal(jb_marker_format(line, sizeof line, 1, 1, "begin", "", 0, 0), -1);
    assert_int_equal(jb_marker_format(line, sizeof line, 1, 1, "bogus", "x", 0, 0), -1);
    assert_int_equal(jb_marker_format(line, 10, 1, 1, "begin", "abcdefgh", 0, 0), -1);
    /* every cap up to the full length: fails cleanly, never overruns */
    int full = jb_marker_format(line, sizeof line, 123456789, 42, "metric", "loss", 7, 0.25);
    for (int cap = 0; cap <= full; cap++) {
        char small[80];
        memset(small, 'Z', sizeof small);
        assert_int_equal(
            jb_marker_format(small, (size_t)cap, 123456789, 42, "metric", "loss", 7, 0.25), -1);
        for (int k = cap; k < (int)sizeof small; k++)
            assert_int_equal(small[k], 'Z');
    }
    assert_int_equal(
        jb_marker_format(line, (size_t)full + 1, 123456789, 42, "metric", "loss", 7, 0.25), full);
    assert_true(jb_marker_name_ok("a"));
    assert_false(jb_marker_name_ok(NULL));
}

/* A locale with a decimal comma must not leak into the wire format. */
static void test_format_locale(void **state)
{
    const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "de_DE"};
    const char *ok = NULL;
    for (size_t i = 0; i < sizeof names / sizeof *names && !ok; i++)
        if (setlocale(LC_NUMERIC, names[i])) ok = names[i];
    if (!ok) skip(); /* no decimal-comma locale installed here */
    char line[JB_MARKER_MAX_LEN];
    jb_marker_format(line, sizeof line, 1, 1, "metric", "x", JB_MARKER_NO_INDEX, 0.5);
    setlocale(LC_NUMERIC, "C");
    assert_string_equal(line, "v1 1 1 metric x 0.5\n");
}

static void test_fuzz_random_bytes(void **state)
{
    srand(12345);
    jb_marker m;
    char why[64];
    char buf[700];
    int accepted = 0;
    for (int i = 0; i < 200000; i++) {
        size_t len = (size_t)(rand() % (int)sizeof buf);
        /* half pure noise, half noise from the marker alphabet */
        const char *alpha = "v1 0123456789beginmetricevent.-e\n ";
        for (size_t k = 0; k < len; k++)
            buf[k] = i % 2 ? (char)(rand() & 0xff) : alpha[rand() % 35];
        if (jb_marker_parse(buf, len, &m, why, sizeof why) == 0) {
            accepted++;
            assert_true(len <= JB_MARKER_MAX_LEN);
            assert_true(jb_marker_name_ok(m.name));
        } else {
            assert_true(why[0] != 0);
        }
    }
    /* mutations of a valid line: near-misses exercise every branch */
    const char *seed = "v1 1764200000923456789 4242 metric val_accuracy 3 0.8731\n";
    size_t seedlen = strlen(seed);
    for (int i = 0; i < 100000; i++) {
        memcpy(buf, seed, seedlen);
        size_t len = seedlen - (size_t)(rand() % 4);
        for (int k = 0, nmut = 1 + rand() % 3; k < nmut; k++)
            buf[rand() % (int)len] = (char)(rand() & 0xff);
        if (jb_marker_parse(buf, len, &m, why, sizeof why) == 0) {
            accepted++;
            assert_true(isfinite(m.value) && jb_marker_name_ok(m.name));
        } else {
            assert_true(why[0] != 0);
        }
    }
    print_message("fuzz: %d of 300000 random or mutated inputs parsed as markers\n", accepted);
}

static void test_truncations(void **state)
{
    const char *lines[] = {
        "v1 1764200000923456789 4242 metric val_accuracy 3 0.8731\n",
        "v1 1764200000123456789 4242 begin epoch 3\n",
        "v1 1764200000123456789 4242 event checkpoint\n",
    };
    for (size_t l = 0; l < 3; l++) {
        size_t full = strlen(lines[l]);
        for (size_t len = 0; len <= full; len++) {
            char *copy = malloc(len ? len : 1); /* exact size: ASan catches any over-read */
            memcpy(copy, lines[l], len);
            jb_marker m;
            char why[64];
            int rc = jb_marker_parse(copy, len, &m, why, sizeof why);
            if (rc == 0) {
                /* a prefix may still be a valid (shorter) marker: it must re-format to itself */
                char again[JB_MARKER_MAX_LEN];
                int n = jb_marker_format(again, sizeof again, m.t_ns, m.pid, m.kind, m.name,
                                         m.has_index ? m.index : JB_MARKER_NO_INDEX, m.value);
                assert_true(n > 0);
                assert_int_equal(jb_marker_parse(again, (size_t)n, &m, why, sizeof why), 0);
            }
            free(copy);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_forms),      cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_format_roundtrip), cmocka_unit_test(test_format_rejects),
        cmocka_unit_test(test_format_locale),    cmocka_unit_test(test_fuzz_random_bytes),
        cmocka_unit_test(test_truncations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

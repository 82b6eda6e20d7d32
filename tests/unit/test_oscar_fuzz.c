/*
 * test_oscar_fuzz.c — the OSCAR parsers and the import on garbage: random
 * truncations and mutations (byte flips, inserted separators, digits, line
 * breaks, duplicated and dropped lines) of the committed fixtures, and pure
 * random bytes. Each attempt must end in success or in an error naming the
 * file, never in a crash (run under ASan+UBSan by `make sanitize`). A failed
 * import must leave the store without runs. Seeded, so failures repeat.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oscar.h"
#include "testutil.h"

static char fx[512];
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static const jb_oscar_tz TZ_ENV = {false, 0};

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static char *load(const char *name, size_t *len)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", fx, name);
    char *t;
    jb_err err;
    assert_int_equal(jb_oscar_read_file(path, &t, len, &err), 0);
    return t;
}

/* A mutated copy of text (malloc'd, *n its length). */
static char *mutate(const char *text, size_t len, size_t *n)
{
    char *out = malloc(len * 2 + 64);
    memcpy(out, text, len);
    size_t m = len;
    int edits = 1 + (int)(rnd() % 6);
    static const char pool[] = ";;,.:-\n\r 0123456789\"\xEF\xBB\xBF\xFF\x00";
    for (int e = 0; e < edits && m > 0; e++) {
        size_t at = rnd() % m;
        switch (rnd() % 6) {
        case 0:
            m = at;
            break; /* truncate */
        case 1:
            out[at] = (char)(rnd() & 0xFF);
            break; /* flip a byte */
        case 2:
            out[at] = pool[rnd() % (sizeof pool - 1)];
            break;
        case 3: /* insert a byte */
            if (m + 1 < len * 2 + 64) {
                memmove(out + at + 1, out + at, m - at);
                out[at] = pool[rnd() % (sizeof pool - 1)];
                m++;
            }
            break;
        case 4: { /* delete a run of bytes (drops lines) */
            size_t k = rnd() % 200;
            if (at + k > m) k = m - at;
            memmove(out + at, out + at + k, m - at - k);
            m -= k;
            break;
        }
        default: { /* duplicate a chunk */
            size_t k = rnd() % 120;
            if (at + k > m) k = m - at;
            if (m + k < len * 2 + 64) {
                memmove(out + at + k, out + at, m - at);
                m += k;
            }
            break;
        }
        }
    }
    *n = m;
    return out;
}

enum { LOG, POWER, HW };

static int parse(int kind, const char *t, size_t n, jb_err *err)
{
    int rc;
    if (kind == LOG) {
        jb_oscar_log l;
        rc = jb_oscar_parse_log("f.csv", t, n, &TZ_ENV, &l, err);
        if (!rc) jb_oscar_log_free(&l);
    } else if (kind == POWER) {
        jb_oscar_power p;
        rc = jb_oscar_parse_power("f.csv", t, n, &TZ_ENV, &p, err);
        if (!rc) jb_oscar_power_free(&p);
    } else {
        jb_oscar_hw h;
        rc = jb_oscar_parse_hardware("f.csv", t, n, &TZ_ENV, &h, err);
        if (!rc) jb_oscar_hw_free(&h);
    }
    return rc;
}

static void fuzz_parser(int kind, const char *file, int iters)
{
    size_t len;
    char *text = load(file, &len);
    int ok = 0, bad = 0;
    for (int i = 0; i < iters; i++) {
        size_t n;
        char *m = mutate(text, len, &n);
        jb_err err = {{0}};
        if (parse(kind, m, n, &err) == 0) {
            ok++;
        } else {
            bad++;
            if (strncmp(err.msg, "f.csv", 5)) fail_msg("error without the file: '%s'", err.msg);
        }
        free(m);
    }
    /* both outcomes occur: mutations that keep the file valid, and errors */
    assert_true(ok > 0 && bad > 0);
    free(text);
}

static void test_fuzz_log(void **state)
{
    fuzz_parser(LOG, "scenario_log.csv", 3000);
}
static void test_fuzz_power(void **state)
{
    fuzz_parser(POWER, "power.csv", 400);
}
static void test_fuzz_hardware(void **state)
{
    fuzz_parser(HW, "hardware.csv", 300);
}

static void test_random_bytes(void **state)
{
    char buf[2048];
    for (int i = 0; i < 2000; i++) {
        size_t n = rnd() % sizeof buf;
        for (size_t k = 0; k < n; k++) {
            uint64_t r = rnd();
            /* mostly printable, with separators and line breaks */
            buf[k] = (r & 3) ? "0123456789;:.,- \n"[(r >> 8) % 17] : (char)(r >> 16);
        }
        jb_err err;
        for (int kind = LOG; kind <= HW; kind++)
            parse(kind, buf, n, &err);
    }
}

/* The whole import on mutated logs: success, or an error and no runs. */
static void test_fuzz_import(void **state)
{
    tu_make_root("oscar_fz");
    size_t len;
    char *text = load("baseline_log.csv", &len);
    char logp[300], db[300], power[700];
    snprintf(logp, sizeof logp, "%s/log.csv", tu_root);
    snprintf(db, sizeof db, "%s/f.db", tu_root);
    snprintf(power, sizeof power, "%s/power.csv", fx);
    jb_store st;
    jb_err err;
    assert_int_equal(jb_store_open(&st, db, false, &err), 0);
    int64_t runs_before = 0;
    for (int i = 0; i < 100; i++) {
        size_t n;
        char *m = mutate(text, len, &n);
        FILE *f = fopen(logp, "wb");
        fwrite(m, 1, n, f);
        fclose(f);
        free(m);
        jb_oscar_import_opts o;
        memset(&o, 0, sizeof o);
        o.scenario = (jb_oscar_files){logp, power, NULL};
        jb_oscar_import_result res;
        int rc = jb_oscar_import(&st, &o, &res, &err);
        sqlite3_stmt *q;
        sqlite3_prepare_v2(st.db, "SELECT count(*) FROM run", -1, &q, NULL);
        sqlite3_step(q);
        int64_t runs = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        if (rc)
            assert_int_equal(runs, runs_before);
        else
            assert_true(runs > runs_before);
        runs_before = runs;
    }
    jb_store_close(&st);
    free(text);
    tu_rm_root();
}

int main(void)
{
    setenv("TZ", "Europe/Berlin", 1);
    tzset();
    tu_top_path(fx, sizeof fx, "tests/fixtures/oscar");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz_log),      cmocka_unit_test(test_fuzz_power),
        cmocka_unit_test(test_fuzz_hardware), cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_fuzz_import),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

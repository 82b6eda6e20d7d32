/*
 * modbus.c — an external wall meter over Modbus TCP (libmodbus), the meter
 * the green-software measurement method puts between the wall and the
 * system under test.
 *
 * Options (modbus.<key>):
 *   host (127.0.0.1), port (502), unit (slave id, 1), timeout_ms (200),
 *   function (3 = holding registers, 4 = input registers; default 3),
 *   map = janitza (default) | custom.
 * janitza — Janitza UMG 604 / UMG 96RM / UMG 104, float32 with big-endian
 *   word order, function 03: 19020/19022/19024 real power L1/L2/L3 (W),
 *   19026 real power sum (W), 19068 real energy consumed (Wh).
 *   channels = comma list of l1, l2, l3, sum (default "sum"; the published
 *   measurements used "l2"). energy = 1 adds the energy register as an
 *   energy_counter (J = Wh × 3600); default 1 when channels include "sum"
 *   (the register covers all phases, so it does not match a single phase).
 * custom — power.address, power.type (float32|int16|uint16|int32|uint32),
 *   power.word_order (big|little), power.scale (raw × scale = W), and the
 *   same energy.* keys (raw × scale = Wh). Either or both may be given.
 *
 * Resolution: a real Janitza keeps energy as float32 Wh, so at 10 kWh on the
 * register one step is 2^-10 Wh ≈ 3.5 J (at 100 kWh ≈ 28 J): exact over long
 * runs, coarse over a few seconds. The power channels are 1 s means on the
 * meter side whatever rate joulebench polls at.
 *
 * Roles: the energy counter, when present, is the TOTAL and every power
 * channel a PART; otherwise "sum" is the TOTAL with phases as PARTs, and
 * phases alone add up (each TOTAL). Scope: the wall.
 *
 * read() is bounded: one request for all channels when they span at most
 * 125 registers (else one per channel), each with the response timeout; the
 * first failure closes the connection and marks the rest of the sample as
 * gaps. A NaN float register is a gap for that channel. The next read reconnects; a failed
 * reconnect is retried at most once a second, so a meter that stops answering leaves gaps, not
 * stalls.
 */
#include "source.h"

#include <errno.h>
#include <math.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MB_MAX_CH 8
#define MB_RETRY_NS 1000000000LL

typedef enum { T_FLOAT32, T_INT16, T_UINT16, T_INT32, T_UINT32 } reg_type;

typedef struct mb_reg {
    int address;
    reg_type type;
    bool little; /* word order: low word first */
    double scale;
} mb_reg;

typedef struct mb_chan {
    mb_reg reg;
    bool energy; /* Wh → J */
} mb_chan;

typedef struct mb_state {
    modbus_t *ctx;
    bool connected;
    int function;
    int64_t next_try_ns;
    int n;
    mb_chan ch[MB_MAX_CH];
    bool block; /* all channels in one request (a consistent snapshot) */
    int block_start, block_len;
    char where[160]; /* host:port unit N, for messages */
} mb_state;

typedef struct mb_conf {
    char host[128];
    int port, unit, timeout_ms, function;
    int n;
    mb_chan ch[MB_MAX_CH];
    char names[MB_MAX_CH][64];
    jb_role roles[MB_MAX_CH];
} mb_conf;

static const char *opt(const jb_source_env *env, const char *key, const char *def)
{
    const char *v = jb_source_opt_get(env, "modbus", key);
    return v && *v ? v : def;
}

static int opt_int(const jb_source_env *env, const char *key, int def, int lo, int hi, int *out,
                   jb_err *err)
{
    const char *v = jb_source_opt_get(env, "modbus", key);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 0);
    if (end == v || *end || errno || x < lo || x > hi)
        return jb_errf(err, "modbus.%s=%s: expected an integer from %d to %d", key, v, lo, hi);
    *out = (int)x;
    return 0;
}

static int parse_type(const char *s, reg_type *t)
{
    static const char *const names[] = {"float32", "int16", "uint16", "int32", "uint32"};
    for (unsigned i = 0; i < JB_ARRAY_LEN(names); i++)
        if (!strcmp(s, names[i])) {
            *t = (reg_type)i;
            return 0;
        }
    return -1;
}

static int words_of(reg_type t)
{
    return t == T_INT16 || t == T_UINT16 ? 1 : 2;
}

/* Decode registers as the configured type (Modbus registers are big-endian
 * bytes; libmodbus hands them over as host-order 16-bit words). */
double jb_modbus_decode(const uint16_t *r, int type, bool little_word_order)
{
    if (type == T_INT16) return (int16_t)r[0];
    if (type == T_UINT16) return r[0];
    uint32_t hi = little_word_order ? r[1] : r[0], lo = little_word_order ? r[0] : r[1];
    uint32_t u = hi << 16 | lo;
    switch ((reg_type)type) {
    case T_FLOAT32: {
        float f;
        memcpy(&f, &u, sizeof f);
        return f;
    }
    case T_INT16:
    case T_UINT16:
        break; /* one register: handled above */
    case T_INT32:
        return (int32_t)u;
    case T_UINT32:
        return u;
    }
    return NAN;
}

static void add_conf_chan(mb_conf *c, const char *name, mb_reg reg, bool energy, jb_role role)
{
    if (c->n >= MB_MAX_CH) return;
    c->ch[c->n] = (mb_chan){reg, energy};
    snprintf(c->names[c->n], sizeof c->names[0], "modbus/%s", name);
    c->roles[c->n++] = role;
}

static int janitza_conf(const jb_source_env *env, mb_conf *c, jb_err *err)
{
    static const struct {
        const char *name;
        int address;
    } phases[] = {{"l1", 19020}, {"l2", 19022}, {"l3", 19024}, {"sum", 19026}};
    const char *list = opt(env, "channels", "sum");
    bool want[4] = {false};
    char buf[128];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        unsigned i = 0;
        while (i < 4 && strcmp(t, phases[i].name))
            i++;
        if (i == 4)
            return jb_errf(err, "modbus.channels=%s: unknown channel '%s' (use l1, l2, l3, sum)",
                           list, t);
        want[i] = true;
    }
    int energy;
    if (opt_int(env, "energy", want[3], 0, 1, &energy, err)) return -1;
    for (unsigned i = 0; i < 4; i++) {
        if (!want[i]) continue;
        jb_role role = energy    ? JB_ROLE_PART
                       : i == 3  ? JB_ROLE_TOTAL
                       : want[3] ? JB_ROLE_PART
                                 : JB_ROLE_TOTAL;
        add_conf_chan(c, phases[i].name, (mb_reg){phases[i].address, T_FLOAT32, false, 1}, false,
                      role);
    }
    if (energy)
        add_conf_chan(c, "energy", (mb_reg){19068, T_FLOAT32, false, 1}, true, JB_ROLE_TOTAL);
    return 0;
}

static int custom_reg(const jb_source_env *env, const char *what, mb_reg *r, bool *present,
                      jb_err *err)
{
    char key[64];
    snprintf(key, sizeof key, "%s.address", what);
    *present = jb_source_opt_get(env, "modbus", key) != NULL;
    if (!*present) return 0;
    if (opt_int(env, key, 0, 0, 65535, &r->address, err)) return -1;
    snprintf(key, sizeof key, "%s.type", what);
    const char *t = opt(env, key, "float32");
    if (parse_type(t, &r->type))
        return jb_errf(err, "modbus.%s=%s: use float32, int16, uint16, int32 or uint32", key, t);
    snprintf(key, sizeof key, "%s.word_order", what);
    const char *wo = opt(env, key, "big");
    if (strcmp(wo, "big") && strcmp(wo, "little"))
        return jb_errf(err, "modbus.%s=%s: use big (high word first) or little", key, wo);
    r->little = !strcmp(wo, "little");
    snprintf(key, sizeof key, "%s.scale", what);
    const char *sc = opt(env, key, "1");
    char *end;
    r->scale = strtod(sc, &end);
    if (end == sc || *end || !isfinite(r->scale) || r->scale == 0)
        return jb_errf(err, "modbus.%s=%s: expected a non-zero number", key, sc);
    return 0;
}

static int custom_conf(const jb_source_env *env, mb_conf *c, jb_err *err)
{
    mb_reg p = {0}, e = {0};
    bool hp, he;
    if (custom_reg(env, "power", &p, &hp, err) || custom_reg(env, "energy", &e, &he, err))
        return -1;
    if (!hp && !he)
        return jb_errf(err, "modbus.map=custom needs modbus.power.address and/or "
                            "modbus.energy.address (with .type, .word_order, .scale)");
    if (hp) add_conf_chan(c, "power", p, false, he ? JB_ROLE_PART : JB_ROLE_TOTAL);
    if (he) add_conf_chan(c, "energy", e, true, JB_ROLE_TOTAL);
    return 0;
}

static int read_conf(const jb_source_env *env, mb_conf *c, jb_err *err)
{
    memset(c, 0, sizeof *c);
    snprintf(c->host, sizeof c->host, "%s", opt(env, "host", "127.0.0.1"));
    if (opt_int(env, "port", 502, 1, 65535, &c->port, err) ||
        opt_int(env, "unit", 1, 0, 255, &c->unit, err) ||
        opt_int(env, "timeout_ms", 200, 1, 10000, &c->timeout_ms, err) ||
        opt_int(env, "function", 3, 3, 4, &c->function, err))
        return -1;
    const char *map = opt(env, "map", "janitza");
    if (!strcmp(map, "janitza")) return janitza_conf(env, c, err);
    if (!strcmp(map, "custom")) return custom_conf(env, c, err);
    return jb_errf(err, "modbus.map=%s: unknown register map (use janitza or custom)", map);
}

static modbus_t *new_ctx(const mb_conf *c)
{
    modbus_t *ctx = modbus_new_tcp(c->host, c->port);
    if (!ctx) return NULL;
    modbus_set_slave(ctx, c->unit);
    uint32_t us = (uint32_t)c->timeout_ms * 1000;
    modbus_set_response_timeout(ctx, us / 1000000, us % 1000000);
    modbus_set_byte_timeout(ctx, us / 1000000, us % 1000000);
    return ctx;
}

static int read_words(modbus_t *ctx, int function, int address, int n, uint16_t *w)
{
    int got = function == 4 ? modbus_read_input_registers(ctx, address, n, w)
                            : modbus_read_registers(ctx, address, n, w);
    return got == n ? 0 : -1;
}

static int read_reg(modbus_t *ctx, int function, const mb_reg *r, double *v)
{
    uint16_t w[2] = {0, 0};
    if (read_words(ctx, function, r->address, words_of(r->type), w)) return -1;
    *v = jb_modbus_decode(w, (int)r->type, r->little) * r->scale;
    return isfinite(*v) ? 0 : -2; /* -2: answered, but NaN */
}

/* One request covering every channel when they lie within 125 registers
 * (the Modbus limit): the Janitza map needs 19020..19069. */
static void plan_block(mb_state *s)
{
    int lo = 65536, hi = -1;
    for (int i = 0; i < s->n; i++) {
        const mb_reg *r = &s->ch[i].reg;
        if (r->address < lo) lo = r->address;
        if (r->address + words_of(r->type) > hi) hi = r->address + words_of(r->type);
    }
    s->block = s->n > 1 && hi - lo <= MODBUS_MAX_READ_REGISTERS;
    s->block_start = lo;
    s->block_len = hi - lo;
}

static void store_value(mb_state *s, int i, double v, double *values, uint8_t *ok)
{
    if (!isfinite(v)) return; /* NaN from a float register: a gap */
    values[i] = s->ch[i].energy ? v * 3600.0 : v;
    ok[i] = 1;
}

static void lose_link(mb_state *s)
{
    modbus_close(s->ctx); /* timeout or broken link: drop stale replies */
    s->connected = false;
}

/* Block read; -1 if the link failed, 1 if the meter refuses the span. */
static int read_block(mb_state *s, double *values, uint8_t *ok)
{
    uint16_t w[MODBUS_MAX_READ_REGISTERS];
    if (read_words(s->ctx, s->function, s->block_start, s->block_len, w) < 0) {
        if (errno == EMBXILADD || errno == EMBXILVAL) return 1;
        lose_link(s);
        return -1;
    }
    for (int i = 0; i < s->n; i++) {
        const mb_reg *r = &s->ch[i].reg;
        double v = jb_modbus_decode(w + (r->address - s->block_start), (int)r->type, r->little);
        store_value(s, i, v * r->scale, values, ok);
    }
    return 0;
}

static void mb_close(void *state)
{
    mb_state *s = state;
    if (!s) return;
    if (s->ctx) {
        modbus_close(s->ctx);
        modbus_free(s->ctx);
    }
    free(s);
}

static int mb_open(const jb_source_env *env, void **state, jb_channel_list *chans, jb_err *err)
{
    mb_conf c;
    if (read_conf(env, &c, err)) return -1;
    mb_state *s = calloc(1, sizeof *s);
    if (!s) return jb_errf(err, "modbus: out of memory");
    s->ctx = new_ctx(&c);
    if (!s->ctx) {
        free(s);
        return jb_errf(err, "modbus: %s:%d: cannot create a Modbus TCP context (bad host?)", c.host,
                       c.port);
    }
    snprintf(s->where, sizeof s->where, "%s:%d unit %d", c.host, c.port, c.unit);
    if (modbus_connect(s->ctx) < 0) {
        int e = errno;
        mb_close(s);
        return jb_errf(err,
                       "modbus: cannot connect to %s:%d: %s; check modbus.host/port, the "
                       "meter's network and that Modbus TCP is enabled on it",
                       c.host, c.port, modbus_strerror(e));
    }
    s->connected = true;
    s->function = c.function;
    for (int i = 0; i < c.n; i++) {
        int idx = jb_channel_add(chans, c.names[i], c.ch[i].energy ? "J" : "W",
                                 c.ch[i].energy ? JB_KIND_ENERGY_COUNTER : JB_KIND_POWER,
                                 c.roles[i], false);
        if (idx < 0) break;
        snprintf(chans->ch[idx].meta, sizeof chans->ch[idx].meta,
                 "{\"meter\":\"%s\",\"register\":%d,\"function\":%d,\"scale\":%.10g%s}", s->where,
                 c.ch[i].reg.address, c.function, c.ch[i].reg.scale,
                 c.ch[i].energy ? ",\"register_unit\":\"Wh\"" : "");
        s->ch[s->n++] = c.ch[i];
    }
    plan_block(s);
    *state = s;
    return 0;
}

static int mb_read(void *state, int64_t now_ns, double *values, uint8_t *ok)
{
    mb_state *s = state;
    memset(ok, 0, (size_t)s->n);
    if (!s->connected) {
        if (now_ns < s->next_try_ns) return -1;
        if (modbus_connect(s->ctx) < 0) {
            modbus_close(s->ctx);
            s->next_try_ns = now_ns + MB_RETRY_NS;
            return -1;
        }
        s->connected = true;
    }
    if (s->block) {
        int rc = read_block(s, values, ok);
        if (rc <= 0) return rc;
        s->block = false; /* the meter refuses the span: one request per channel from now on */
    }
    for (int i = 0; i < s->n; i++) {
        double v;
        int rc = read_reg(s->ctx, s->function, &s->ch[i].reg, &v);
        if (rc == -2) continue;
        if (rc < 0) {
            if (errno == EMBXILADD || errno == EMBXILVAL) continue; /* meter said no: keep link */
            lose_link(s);
            return i ? 0 : -1;
        }
        store_value(s, i, v, values, ok);
    }
    return 0;
}

static int mb_probe(const jb_source_env *env, char *reason, size_t rcap, char *fix, size_t fcap)
{
    mb_conf c;
    jb_err err;
    if (read_conf(env, &c, &err)) {
        snprintf(reason, rcap, "%s", err.msg);
        snprintf(fix, fcap, "correct the modbus.* options in the spec or on the command line");
        return 0;
    }
    modbus_t *ctx = new_ctx(&c);
    if (!ctx || modbus_connect(ctx) < 0) {
        snprintf(reason, rcap, "no Modbus TCP meter at %s:%d (%s)", c.host, c.port,
                 ctx ? modbus_strerror(errno) : "bad address");
        snprintf(fix, fcap,
                 "set modbus.host=<meter address> (and modbus.port, modbus.unit, "
                 "modbus.map) to the wall meter feeding the system under test");
        if (ctx) modbus_free(ctx);
        return 0;
    }
    double v;
    int rc = read_reg(ctx, c.function, &c.ch[0].reg, &v);
    int e = rc == -2 ? EINVAL : errno;
    modbus_close(ctx);
    modbus_free(ctx);
    if (rc < 0) {
        snprintf(reason, rcap, "%s:%d unit %d: reading register %d failed (%s)", c.host, c.port,
                 c.unit, c.ch[0].reg.address, modbus_strerror(e));
        snprintf(fix, fcap,
                 "check modbus.unit (slave id) and modbus.map/function for this meter "
                 "model; raise modbus.timeout_ms on a slow network");
        return 0;
    }
    return 1;
}

const jb_source_driver jb_src_modbus = {
    .name = "modbus",
    .description = "wall meter over Modbus TCP (Janitza UMG 604/96RM/104 or a custom map)",
    .is_power = true,
    .in_default = false,
    .scope = JB_SCOPE_WALL,
    .family = "wall",
    .probe = mb_probe,
    .open = mb_open,
    .read = mb_read,
    .close = mb_close,
};

/*
 * modbus_sim.c — a Modbus TCP wall meter simulator for the tests (libmodbus
 * server API). It serves the Janitza UMG 604 register map on 127.0.0.1 with a
 * known power profile, so the true energy is known exactly:
 *
 *   19020/19022/19024  real power L1/L2/L3 (W, float32, big-endian words):
 *                      25 % / 50 % / 25 % of the total
 *   19026              real power sum P(t) (W)
 *   19060, 19068       real energy (Wh) = offset + E(t)/3600, E = ∫ P dt
 *
 * both as holding (function 03) and input (function 04) registers, updated
 * from CLOCK_MONOTONIC at every request, t = 0 at start-up.
 *
 * Profiles: constant P = 100; ramp P = 50 + 20 t; sine P = 100 + 40 sin(π t).
 *
 * Usage: modbus_sim [--port N] [--profile constant|ramp|sine]
 *          [--stop-after S [--stop-for D]] [--energy-offset WH] [--duration S]
 * --port 0 (default) picks a free port. The first line on stdout is
 * "port=<N> t0_ns=<CLOCK_MONOTONIC at t = 0>". Between --stop-after and
 * --stop-after + --stop-for (default: for ever) requests are read and not
 * answered, like a meter that hangs. Exits after --duration (default 120 s)
 * or when its parent dies.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <modbus.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *profile = "constant";

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double power_at(double t)
{
    if (!strcmp(profile, "ramp")) return 50 + 20 * t;
    if (!strcmp(profile, "sine")) return 100 + 40 * sin(M_PI * t);
    return 100;
}

static double energy_at(double t)
{
    if (!strcmp(profile, "ramp")) return 50 * t + 10 * t * t;
    if (!strcmp(profile, "sine")) return 100 * t + 40 / M_PI * (1 - cos(M_PI * t));
    return 100 * t;
}

static void set_float(modbus_mapping_t *m, int address, double v)
{
    float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    int i = address - m->start_registers;
    m->tab_registers[i] = (uint16_t)(u >> 16); /* big-endian word order */
    m->tab_registers[i + 1] = (uint16_t)u;
    int j = address - m->start_input_registers;
    m->tab_input_registers[j] = (uint16_t)(u >> 16);
    m->tab_input_registers[j + 1] = (uint16_t)u;
}

static void update(modbus_mapping_t *m, double t, double offset_wh)
{
    double p = power_at(t), e = offset_wh + energy_at(t) / 3600.0;
    set_float(m, 19020, 0.25 * p);
    set_float(m, 19022, 0.5 * p);
    set_float(m, 19024, 0.25 * p);
    set_float(m, 19026, p);
    set_float(m, 19060, e);
    set_float(m, 19068, e);
}

int main(int argc, char **argv)
{
    int port = 0;
    double stop_after = -1, stop_for = 1e18, offset_wh = 0, duration = 120;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--profile"))
            profile = argv[i + 1];
        else if (!strcmp(argv[i], "--stop-after"))
            stop_after = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--stop-for"))
            stop_for = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--energy-offset"))
            offset_wh = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--duration"))
            duration = atof(argv[i + 1]);
        else {
            fprintf(stderr, "modbus_sim: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", port);
    modbus_mapping_t *m = modbus_mapping_new_start_address(0, 0, 0, 0, 19000, 100, 19000, 100);
    if (!ctx || !m) return 1;
    int srv = modbus_tcp_listen(ctx, 8);
    if (srv < 0) {
        fprintf(stderr, "modbus_sim: listen: %s\n", modbus_strerror(errno));
        return 1;
    }
    struct sockaddr_in addr;
    socklen_t alen = sizeof addr;
    getsockname(srv, (struct sockaddr *)&addr, &alen);
    double t0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    printf("port=%d t0_ns=%lld\n", ntohs(addr.sin_port),
           (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    fflush(stdout);
    t0 = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;

    fd_set all;
    FD_ZERO(&all);
    FD_SET(srv, &all);
    int maxfd = srv;
    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    while (mono_s() - t0 < duration) {
        fd_set rd = all;
        struct timeval tv = {0, 200000};
        if (select(maxfd + 1, &rd, NULL, NULL, &tv) < 0) {
            if (errno == EINTR) continue;
            return 1;
        }
        for (int fd = 0; fd <= maxfd; fd++) {
            if (!FD_ISSET(fd, &rd)) continue;
            if (fd == srv) {
                int c = accept(srv, NULL, NULL);
                if (c >= 0 && c < FD_SETSIZE) {
                    FD_SET(c, &all);
                    if (c > maxfd) maxfd = c;
                } else if (c >= 0) {
                    close(c);
                }
                continue;
            }
            modbus_set_socket(ctx, fd);
            int rc = modbus_receive(ctx, query);
            if (rc > 0) {
                double t = mono_s() - t0;
                if (stop_after >= 0 && t >= stop_after && t < stop_after + stop_for) continue;
                update(m, t, offset_wh);
                modbus_reply(ctx, query, rc, m);
            } else if (rc < 0) {
                close(fd);
                FD_CLR(fd, &all);
            }
        }
    }
    modbus_mapping_free(m);
    modbus_free(ctx);
    return 0;
}

/*
 * mark_at.c — a test workload that sends markers at given wall-clock times:
 *   mark_at KIND NAME UNIX_NS [KIND NAME UNIX_NS ...]
 * sleeps until each UNIX_NS (CLOCK_REALTIME) and sends the marker through the
 * real client library. Used to prove marker placement to the millisecond.
 */
#include <joulebench.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
    for (int i = 1; i + 2 < argc; i += 3) {
        long long at = atoll(argv[i + 2]);
        struct timespec ts = {.tv_sec = at / 1000000000LL, .tv_nsec = at % 1000000000LL};
        while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL)) {
        }
        int rc = !strcmp(argv[i], "begin") ? jb_begin(argv[i + 1], JB_NO_INDEX)
                                           : jb_end(argv[i + 1], JB_NO_INDEX);
        if (rc) {
            fprintf(stderr, "mark_at: sending %s %s failed\n", argv[i], argv[i + 1]);
            return 1;
        }
    }
    return 0;
}

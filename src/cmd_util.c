/*
 * cmd_util.c — small helpers shared by the src/cmd_*.c command files.
 */
#include <string.h>

#include "cmd.h"

int jb_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) return 0;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
    }
    return 0;
}

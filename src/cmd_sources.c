/* cmd_sources.c — placeholder being replaced by the integrator right now. */
#include <stdio.h>
#include "cmd.h"
int jb_cmd_sources(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int jb_cmd_store_schema(int argc, char **argv) { (void)argc; (void)argv; return 0; }

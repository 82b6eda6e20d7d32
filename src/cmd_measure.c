/* cmd_measure.c — placeholder being replaced by the integrator right now. */
#include <stdio.h>
#include "cmd.h"
int jb_cmd_measure(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "measure: not yet\n"); return 124; }

/* report_html.c — placeholder. */
#include "evaluate.h"
int jb_report_html(FILE *f, const jb_eval *ev) { (void)f; (void)ev; return 0; }

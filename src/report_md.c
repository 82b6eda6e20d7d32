/* report_md.c — placeholder, replaced below. */
#include "evaluate.h"
void jb_report_markdown(FILE *f, const jb_eval *ev) { (void)f; (void)ev; }

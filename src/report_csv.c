/* report_csv.c — placeholder. */
#include "evaluate.h"
int jb_report_csv(const char *dir, const jb_eval *ev, jb_err *err) { (void)dir; (void)ev; (void)err; return 0; }

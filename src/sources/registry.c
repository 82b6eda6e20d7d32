/*
 * registry.c — the list of every source driver. Adding a source: write
 * src/sources/<name>.c exposing `const jb_source_driver jb_src_<name>` and add
 * one line to each list below.
 */
#include "source.h"

#include <string.h>

extern const jb_source_driver jb_src_cpu, jb_src_memory, jb_src_disk, jb_src_net, jb_src_process,
    jb_src_rapl, jb_src_estimate;
extern const jb_source_driver jb_src_nvml;
extern const jb_source_driver jb_src_nvsmi;
extern const jb_source_driver jb_src_msr, jb_src_perf, jb_src_hwmon, jb_src_modbus, jb_src_command;

const jb_source_driver *const jb_source_drivers[] = {
    &jb_src_cpu,  &jb_src_memory,   &jb_src_disk,   &jb_src_net,     &jb_src_process,
    &jb_src_rapl, &jb_src_estimate, &jb_src_nvml,   &jb_src_nvsmi,   &jb_src_msr,
    &jb_src_perf, &jb_src_hwmon,    &jb_src_modbus, &jb_src_command, NULL,
};

const jb_source_driver *jb_source_find(const char *name)
{
    for (int i = 0; jb_source_drivers[i]; i++)
        if (!strcmp(jb_source_drivers[i]->name, name)) return jb_source_drivers[i];
    return NULL;
}

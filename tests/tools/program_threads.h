/* program_threads.h -- how many OS threads a process runs of its own: the
 * entries of /proc/PID/task, but gpatch's helpers, which it names
 * "gpatch-..." (the hand-off monitor, a spare kept ready for a hand-off, the
 * watchdog) and which run none of the program's code; stock has none.
 * -1 if the process is gone. Shared by the test harness
 * (tests/e2e/harness.h) and the load generator (tests/tools/loadgen.c). */
#ifndef GP_PROGRAM_THREADS_H
#define GP_PROGRAM_THREADS_H
#include <dirent.h>
#include <stdio.h>
#include <string.h>

static inline long program_threads(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char cpath[320], comm[64] = "";
        snprintf(cpath, sizeof cpath, "/proc/%d/task/%s/comm", pid, e->d_name);
        FILE *f = fopen(cpath, "r");
        if (f) {
            if (!fgets(comm, sizeof comm, f)) comm[0] = 0;
            fclose(f);
        }
        if (strncmp(comm, "gpatch-", 7) != 0) n++;
    }
    closedir(d);
    return n;
}
#endif

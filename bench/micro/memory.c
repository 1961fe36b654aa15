/* memory — N threads each blocked in read() on one pipe; prints the RSS
 * they added, per thread, in KiB, the process's OS thread count, and the
 * kernel memory (KernelStack + unreclaimable slab, machine-wide, so noisy)
 * added per thread, which RSS does not show.
 * With MAX=1 it instead creates threads until pthread_create fails (or N is
 * reached) and prints how many it got and why it stopped. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int p[2];
static void *blocked(void *a)
{
    char c;
    (void)!read(p[0], &c, 1);
    return a;
}

/* a "Field: value" line of a /proc file */
static long field_of(const char *path, const char *field)
{
    FILE *f = fopen(path, "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':') v = atol(line + n + 1);
    if (f) fclose(f);
    return v;
}
#define status(f) field_of("/proc/self/status", f)
#define meminfo(f) field_of("/proc/meminfo", f)

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000;
    int max_mode = getenv("MAX") != NULL;
    pipe(p);
    long before = status("VmRSS"), kbefore = meminfo("KernelStack"), sbefore = meminfo("SUnreclaim");
    long made = 0;
    int err = 0;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    for (; made < n; made++) {
        pthread_t t;
        if ((err = pthread_create(&t, &at, blocked, NULL)) != 0) break;
    }
    usleep(300000); /* let them all reach read() */
    long after = status("VmRSS"), kafter = meminfo("KernelStack"), safter = meminfo("SUnreclaim");
    if (max_mode)
        printf("%ld %s\n", made, err ? strerror(err) : "cap");
    else
        printf("%.2f %ld %.2f\n", made ? (double)(after - before) / made : 0.0, status("Threads"),
               made ? (double)(kafter - kbefore + safter - sbefore) / made : 0.0);
    fflush(stdout);
    close(p[1]); /* EOF for everyone */
    _exit(0);
}

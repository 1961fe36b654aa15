/* memory N — N threads (argv[1], default 10,000) each blocked in read() on
 * one pipe; prints the RSS they added, per thread, in KiB, the process's OS
 * thread count, the kernel memory (KernelStack + PageTables + unreclaimable
 * slab, machine-wide, so noisy) added per thread, which RSS does not show,
 * how many threads were made (fewer than N: pthread_create failed), and the
 * process's memory mappings while they were blocked (/proc/self/maps lines).
 * Per-thread figures are per thread made. `memory N sleep`: the threads sleep
 * (an hour: the process exits first) instead of reading.
 * With MAX=1 it instead creates threads until pthread_create fails (or N is
 * reached) and prints how many it got and why it stopped. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int p[2];
static int started;
static void *blocked(void *a)
{
    char c;
    __atomic_add_fetch(&started, 1, __ATOMIC_RELAXED);
    (void)!read(p[0], &c, 1);
    return a;
}
static void *sleeper(void *a)
{
    __atomic_add_fetch(&started, 1, __ATOMIC_RELAXED);
    sleep(3600);
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
static long lines_of(const char *path)
{
    FILE *f = fopen(path, "r");
    long n = 0;
    int ch;
    while (f && (ch = getc(f)) != EOF) n += ch == '\n';
    if (f) fclose(f);
    return n;
}
#define status(f) field_of("/proc/self/status", f)
#define meminfo(f) field_of("/proc/meminfo", f)

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000;
    int max_mode = getenv("MAX") != NULL;
    void *(*fn)(void *) = argc > 2 && !strcmp(argv[2], "sleep") ? sleeper : blocked;
    pipe(p);
    long before = status("VmRSS"), kbefore = meminfo("KernelStack") + meminfo("PageTables"), sbefore = meminfo("SUnreclaim");
    long made = 0;
    int err = 0;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    for (; made < n; made++) {
        pthread_t t;
        if ((err = pthread_create(&t, &at, fn, NULL)) != 0) break;
    }
    /* let them all reach read() or sleep(): each counts itself just before */
    while (__atomic_load_n(&started, __ATOMIC_RELAXED) < made) usleep(100000);
    usleep(300000);
    long after = status("VmRSS"), kafter = meminfo("KernelStack") + meminfo("PageTables"), safter = meminfo("SUnreclaim");
    if (max_mode)
        printf("%ld %s\n", made, err ? strerror(err) : "cap");
    else
        printf("%.2f %ld %.2f %ld %ld\n", made ? (double)(after - before) / made : 0.0, status("Threads"),
               made ? (double)(kafter - kbefore + safter - sbefore) / made : 0.0, made, lines_of("/proc/self/maps"));
    fflush(stdout);
    close(p[1]); /* EOF for everyone */
    _exit(0);
}

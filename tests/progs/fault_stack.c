/* fault_stack: pthread_create when a thread's stack cannot be mapped returns
 * EAGAIN, as stock, and the program goes on: a stack size larger than the
 * machine could ever back, one larger than the address space, and
 * RLIMIT_AS lowered so that a stack no longer fits. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void *work(void *arg)
{
    volatile char buf[4096];
    buf[0] = (char)(long)arg;
    return (void *)(long)(buf[0] + 1);
}

/* create with this stack size (0: default), join, say what happened */
static void try_size(const char *what, size_t size)
{
    pthread_attr_t a;
    pthread_attr_init(&a);
    int sr = size ? pthread_attr_setstacksize(&a, size) : 0;
    pthread_t t;
    int r = pthread_create(&t, &a, work, (void *)41L);
    void *ret = NULL;
    if (r == 0) pthread_join(t, &ret);
    pthread_attr_destroy(&a);
    printf("%-34s setstacksize %s, create %s, returned %ld\n", what, strerror(sr), strerror(r), (long)ret);
}

static long vm_size_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmSize:", 7)) v = atol(line + 7);
    if (f) fclose(f);
    return v;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    try_size("default stack", 0);
    /* 64 TiB: the kernel refuses to commit it (overcommit heuristic) */
    try_size("64 TiB stack", (size_t)1 << 46);
    /* 256 TiB: more than a process's address space */
    try_size("256 TiB stack", (size_t)1 << 48);
    try_size("1 MiB stack after those", (size_t)1 << 20);

    /* RLIMIT_AS: 4 MiB more than the process maps now */
    struct rlimit rl, saved;
    getrlimit(RLIMIT_AS, &saved);
    rl = saved;
    rl.rlim_cur = (rlim_t)(vm_size_kb() + 4096) * 1024;
    if (setrlimit(RLIMIT_AS, &rl)) {
        perror("setrlimit");
        return 1;
    }
    for (int i = 0; i < 3; i++) try_size("16 MiB stack under RLIMIT_AS", (size_t)16 << 20);
    try_size("64 KiB stack under RLIMIT_AS", (size_t)64 << 10);
    setrlimit(RLIMIT_AS, &saved);
    try_size("16 MiB stack, limit restored", (size_t)16 << 20);

    /* many threads at once, some refused: the others run */
    pthread_t ts[8];
    int made = 0, refused = 0;
    for (int i = 0; i < 8; i++) {
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setstacksize(&a, i % 2 ? (size_t)1 << 46 : (size_t)1 << 20);
        if (pthread_create(&ts[made], &a, work, (void *)(long)i) == 0) made++;
        else refused++;
        pthread_attr_destroy(&a);
    }
    long sum = 0;
    for (int i = 0; i < made; i++) {
        void *ret;
        pthread_join(ts[i], &ret);
        sum += (long)ret;
    }
    printf("mixed: made %d, refused %d, sum %ld\n", made, refused, sum);
    return 0;
}

/* rel_preempt_callbacks: the program's code that libc calls back --
 * a slow qsort comparator, bsearch's, a dl_iterate_phdr callback (under the
 * loader's lock), an atexit handler -- computes for a while, beside threads
 * that compute, sleep in ticks and dlopen/dlsym (the loader's locks). It
 * must not be preempted inside (libc's frames lie below it), and nothing
 * may hang or differ. Deterministic output; alarm bounds a hang. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bound.h"

static volatile int stop;
static volatile long ticks;

static void burn(int n)
{
    volatile unsigned long x = 1;
    for (int i = 0; i < n; i++) x = x * 6364136223846793005ULL + 1;
}

static int cmp(const void *a, const void *b)
{
    burn(300);
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void *sorter(void *arg)
{
    (void)arg;
    enum { N = 20000 };
    int *v = malloc(N * sizeof *v);
    unsigned s = 12345;
    for (int i = 0; i < N; i++) v[i] = (int)((s = s * 1103515245 + 12345) >> 8) % 100000;
    qsort(v, N, sizeof *v, cmp);
    int sorted = 1, found = 0;
    for (int i = 1; i < N; i++) sorted &= v[i - 1] <= v[i];
    for (int i = 0; i < 2000; i++) found += bsearch(&v[i * 7], v, N, sizeof *v, cmp) != NULL;
    free(v);
    return (void *)(long)(sorted * 100000 + found);
}

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    burn(3000000); /* about 10 ms per module, under the loader's lock */
    *(int *)data += info->dlpi_phnum > 0;
    return 0;
}

static void *iterator(void *arg)
{
    (void)arg;
    int n = 0;
    for (int r = 0; r < 3; r++) dl_iterate_phdr(phdr_cb, &n);
    return (void *)(long)(n > 0);
}

static void *loader(void *arg)
{
    (void)arg;
    int ok = 0;
    for (int i = 0; i < 20; i++) {
        void *h = dlopen("libm.so.6", RTLD_NOW);
        ok += h && dlsym(h, "cos") != NULL;
        if (h) dlclose(h);
        usleep(1000);
    }
    return (void *)(long)ok;
}

static void *computer(void *arg)
{
    (void)arg;
    while (!stop) burn(1000);
    return NULL;
}

static void *ticker(void *arg)
{
    (void)arg;
    while (!stop) {
        usleep(2000);
        ticks++;
    }
    return NULL;
}

static void at_exit_burn(void)
{
    burn(30000000);
    printf("atexit handler done\n");
}

int main(void)
{
    alarm(bound_s(60));
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_t s, it, ld, c, tk;
    pthread_create(&c, NULL, computer, NULL);
    pthread_create(&tk, NULL, ticker, NULL);
    pthread_create(&s, NULL, sorter, NULL);
    pthread_create(&it, NULL, iterator, NULL);
    pthread_create(&ld, NULL, loader, NULL);
    void *r;
    pthread_join(s, &r);
    printf("qsort sorted %ld, bsearch found %ld\n", (long)r / 100000, (long)r % 100000);
    pthread_join(it, &r);
    printf("dl_iterate_phdr saw modules: %ld\n", (long)r);
    pthread_join(ld, &r);
    printf("dlopen/dlsym: %ld of 20\n", (long)r);
    stop = 1;
    pthread_join(c, NULL);
    pthread_join(tk, NULL);
    atexit(at_exit_burn);
    stop = 0;
    pthread_create(&c, NULL, computer, NULL); /* still computing as main exits */
    pthread_detach(c);
    return 0;
}

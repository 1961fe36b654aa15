/* rel_thread_buffers — glibc keeps some results per thread, in buffers it
 * allocates on first use and frees at the thread's exit: dlerror's message
 * of the thread's last failed dlopen, strerror's and strsignal's text for a
 * number they do not know. 50,000 short threads each make all three; the
 * process's resident memory must not grow with them (the bound, 50 MB, is
 * loose: each thread's message here is about 3 KB, so a leak would be about
 * 150 MB). Stock is the specification. (Main's own text, which threads
 * must leave alone: rel_strerror_main.) */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bound.h"

#define N 50000
#define BATCH 8
static char path[3000];

static void *churn(void *arg)
{
    (void)arg;
    if (dlopen(path, RTLD_NOW) || !dlerror()) return arg; /* a failure, and its message */
    strerror(100000);
    strsignal(1000);
    return NULL;
}

static long rss_kb(void)
{
    long size = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld %ld", &size, &res) != 2) res = 0;
    if (f) fclose(f);
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static void round_of(int n)
{
    for (int i = 0; i < n; i += BATCH) {
        pthread_t t[BATCH];
        for (int k = 0; k < BATCH; k++) pthread_create(&t[k], NULL, churn, NULL);
        for (int k = 0; k < BATCH; k++) {
            void *r;
            pthread_join(t[k], &r);
            if (r) {
                printf("dlopen of a missing file did not fail with a message\n");
                exit(1);
            }
        }
    }
}

int main(void)
{
    alarm(bound_s(60));
    strcpy(path, "/nonexistent");
    while (strlen(path) < sizeof path - 210) { /* components of 200 (NAME_MAX is 255) */
        strcat(path, "/");
        memset(path + strlen(path), 'x', 200);
    }
    strcat(path, "/lib.so");
    round_of(2000); /* warm: stacks, caches, arenas */
    long before = rss_kb();
    round_of(N);
    long grew = rss_kb() - before;
    printf("%d threads with a dlerror, strerror and strsignal message each: resident memory grew under 50 MB: %s\n", N,
           grew < 50 * 1024 ? "yes" : "no");
    if (grew >= 50 * 1024) printf("(it grew %ld MB)\n", grew / 1024);
    return 0;
}

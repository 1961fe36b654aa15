/* rel_preempt_flockfile: a thread locks stdout (flockfile), computes for a
 * while without a call, writes five lines with putc_unlocked and unlocks;
 * another thread, meanwhile, calls stdio functions that take the stream's
 * lock and that gpatch's stream gates do not cover: feof, ferror, and
 * fputws (which fails on a stream already byte-oriented). Stock, they wait
 * for the lock: the lines come out whole, fputws fails. Preempting the
 * holder inside its locked stretch let them in -- with shared TLS glibc
 * took the lock for the holder's (one thread pointer per worker), fputws
 * made stdout wide and the holder's putc_unlocked lines were lost.
 * Deterministic output; alarm bounds a hang. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <wchar.h>
#include "bound.h"

static volatile int locked;
static int probe_eof, probe_wide;

static void *holder(void *arg)
{
    (void)arg;
    flockfile(stdout);
    locked = 1;
    volatile unsigned long x = 1;
    for (unsigned long i = 0; i < 300000000UL; i++) x = x * 3 + 1;
    for (int i = 0; i < 5; i++) {
        putc_unlocked('A' + i, stdout);
        putc_unlocked('\n', stdout);
    }
    funlockfile(stdout);
    return NULL;
}

static void *prober(void *arg)
{
    (void)arg;
    while (!locked) usleep(1000);
    probe_eof = feof(stdout) + ferror(stdout); /* each takes the stream's lock */
    probe_wide = fputws(L"wide\n", stdout);   /* so does this; fails on a byte stream */
    return NULL;
}

int main(void)
{
    alarm(bound_s(30));
    setvbuf(stdout, NULL, _IOFBF, 4096);
    pthread_t h, p;
    pthread_create(&h, NULL, holder, NULL);
    pthread_create(&p, NULL, prober, NULL);
    pthread_join(h, NULL);
    pthread_join(p, NULL);
    printf("feof+ferror %d, fputws %s\n", probe_eof, probe_wide < 0 ? "failed" : "wrote");
    return 0;
}

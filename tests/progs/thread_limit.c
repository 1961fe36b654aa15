/* thread_limit: creates threads that wait for good until pthread_create
 * fails, then says how (EAGAIN, as stock) and after how many, in bands so
 * that stock and gpatch print the same: run it with a small RLIMIT_NPROC as
 * a user the kernel holds to it (tests/e2e/test_tools.c). A bound: 200,000
 * threads, 60 s. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int p[2];

static void *wait_forever(void *arg)
{
    (void)arg;
    char c;
    while (read(p[0], &c, 1) != 0) {
    }
    return NULL;
}

int main(int argc, char **argv)
{
    long expect = argc > 1 ? atol(argv[1]) : 0;
    alarm(60);
    if (pipe(p) != 0) return 1;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 64 * 1024);
    long n = 0;
    int r = 0;
    while (n < 200000 && (r = pthread_create(&(pthread_t){0}, &a, wait_forever, NULL)) == 0) n++;
    printf("pthread_create failed with: %s\n", r == EAGAIN ? "EAGAIN" : r ? strerror(r) : "nothing (200,000 made)");
    if (expect) printf("threads made: within 5 of %ld: %s\n", expect - 1, n >= expect - 6 && n <= expect ? "yes" : "no");
    fflush(stdout);
    _exit(0);
}

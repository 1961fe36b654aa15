/* rel_futex_wake — FUTEX_WAKE wakes the waiters it counts even when nobody
 * changed the word (a wake wakes; the word is only the waiter's check at
 * the start of its wait): waiters parked with syscall(SYS_futex,
 * FUTEX_WAIT_PRIVATE) on a word that stays 0, woken by number: 1, 0 (the
 * kernel wakes one for 0 too), INT_MAX, and a wake with nobody waiting.
 * Each wake comes 100 ms after the waiters started waiting, and what it
 * woke is counted 100 ms later. Stock is the specification. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "bound.h"

static uint32_t word; /* never changes */
static int returned, ret_zero, ret_other;

static void *waiter(void *arg)
{
    (void)arg;
    long r = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    __atomic_add_fetch(r == 0 ? &ret_zero : &ret_other, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&returned, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void ms(int n) { usleep(n * 1000); }

static void wake(const char *what, int n)
{
    long r = syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
    int e = errno;
    ms(100);
    printf("%s: wake returned %ld%s%s; waiters returned so far: %d (with 0: %d)\n", what, r, r < 0 ? " " : "",
           r < 0 ? strerror(e) : "", __atomic_load_n(&returned, __ATOMIC_SEQ_CST),
           __atomic_load_n(&ret_zero, __ATOMIC_SEQ_CST));
}

static void *waker(void *arg)
{
    (void)arg;
    wake("a thread wakes 1 of 1", 1);
    return NULL;
}

int main(void)
{
    alarm(bound_s(20));
    setvbuf(stdout, NULL, _IONBF, 0);
    wake("nobody waiting, 1", 1);
    wake("nobody waiting, INT_MAX", INT_MAX);

    pthread_t t[5];
    for (int i = 0; i < 5; i++) pthread_create(&t[i], NULL, waiter, NULL);
    ms(100); /* all five wait in the kernel (stock) or are parked */
    wake("5 waiting, wake 1", 1);
    wake("4 waiting, wake 0", 0);
    wake("3 waiting, wake 2", 2);
    wake("1 waiting, wake INT_MAX", INT_MAX);
    wake("nobody left, INT_MAX", INT_MAX);
    for (int i = 0; i < 5; i++) pthread_join(t[i], NULL);
    printf("returned with 0: %d, otherwise: %d\n", ret_zero, ret_other);

    /* the wake from another thread than main */
    pthread_t a, b;
    pthread_create(&a, NULL, waiter, NULL);
    ms(100);
    pthread_create(&b, NULL, waker, NULL);
    pthread_join(b, NULL);
    pthread_join(a, NULL);
    printf("returned with 0: %d, otherwise: %d\n", ret_zero, ret_other);
    return 0;
}

/* rel_futex — futexes through syscall(SYS_futex), as a JVM's safepoint
 * barrier, InnoDB's mutexes and libstdc++'s static-init guards use them:
 * two threads hand a token back and forth 2,000 times with FUTEX_WAIT and
 * FUTEX_WAKE, then a waiter with a timeout, a bitset wait with an absolute
 * deadline, and every bad input (value mismatch, bad address, bad op,
 * bad timeout). Stock is the specification. */
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

#define ROUNDS 2000
static uint32_t token; /* whose turn: 0 or 1 */

static long fx(uint32_t *a, int op, uint32_t v, const struct timespec *t, uint32_t *a2, uint32_t v3)
{
    return syscall(SYS_futex, a, op, v, t, a2, v3);
}

static void *player(void *arg)
{
    uint32_t me = (uint32_t)(long)arg;
    for (int i = 0; i < ROUNDS; i++) {
        while (__atomic_load_n(&token, __ATOMIC_ACQUIRE) != me) fx(&token, FUTEX_WAIT_PRIVATE, 1 - me, NULL, NULL, 0);
        __atomic_store_n(&token, 1 - me, __ATOMIC_RELEASE);
        fx(&token, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
    return NULL;
}

static uint32_t gate;
static void *opener(void *arg)
{
    (void)arg;
    usleep(20000);
    __atomic_store_n(&gate, 1, __ATOMIC_RELEASE);
    fx(&gate, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    return NULL;
}

static void *bystander(void *arg)
{
    char c;
    return read(*(int *)arg, &c, 1) == 1 ? NULL : arg;
}

static void show(const char *what, long r)
{
    printf("%s: %ld %s\n", what, r, r < 0 ? strerror(errno) : "");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_t a, b;
    pthread_create(&a, NULL, player, (void *)0L);
    pthread_create(&b, NULL, player, (void *)1L);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("ping-pong: %d rounds, token %u\n", ROUNDS, token);

    /* a waiter woken by another thread's store and wake */
    pthread_t o;
    pthread_create(&o, NULL, opener, NULL);
    long r;
    do r = fx(&gate, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    while (r != 0 && errno == EAGAIN && !gate ? 1 : (r != 0 && errno == EINTR));
    pthread_join(o, NULL);
    printf("gate opened: %u\n", gate);

    /* a bystander thread stays alive meanwhile: with one thread left a
     * gpatch'd process makes its calls straight to the kernel, and these
     * must go through the green futex wait */
    int by[2];
    if (pipe(by) != 0) return 1;
    pthread_t bys;
    pthread_create(&bys, NULL, bystander, &by[0]);

    uint32_t word = 5;
    errno = 0;
    show("value differs", fx(&word, FUTEX_WAIT_PRIVATE, 6, NULL, NULL, 0));
    struct timespec short_wait = {0, 30 * 1000000};
    show("timed out", fx(&word, FUTEX_WAIT_PRIVATE, 5, &short_wait, NULL, 0));
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    now.tv_nsec += 20 * 1000000;
    if (now.tv_nsec >= 1000000000) now.tv_sec++, now.tv_nsec -= 1000000000;
    show("bitset absolute deadline", fx(&word, FUTEX_WAIT_BITSET_PRIVATE, 5, &now, NULL, FUTEX_BITSET_MATCH_ANY));
    struct timespec past = {0, 0};
    show("bitset deadline passed", fx(&word, FUTEX_WAIT_BITSET_PRIVATE, 5, &past, NULL, FUTEX_BITSET_MATCH_ANY));
    show("bad address", fx((uint32_t *)8, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0));
    show("bad op", fx(&word, 99, 5, NULL, NULL, 0));
    struct timespec bad = {0, 2000000000};
    show("bad timeout", fx(&word, FUTEX_WAIT_PRIVATE, 5, &bad, NULL, 0));
    show("bitset zero", fx(&word, FUTEX_WAIT_BITSET_PRIVATE, 5, &short_wait, NULL, 0));
    struct timespec zero = {0, 0};
    show("value holds, zero timeout", fx(&word, FUTEX_WAIT_PRIVATE, 5, &zero, NULL, 0));
    show("value differs, zero timeout", fx(&word, FUTEX_WAIT_PRIVATE, 4, &zero, NULL, 0));
    show("misaligned address", fx((uint32_t *)((char *)&word + 1), FUTEX_WAIT_PRIVATE, 5, &short_wait, NULL, 0));
    show("realtime clock on a plain wait",
         fx(&word, FUTEX_WAIT_PRIVATE | FUTEX_CLOCK_REALTIME, 5, &short_wait, NULL, 0));
    show("bad timeout address", fx(&word, FUTEX_WAIT_PRIVATE, 5, (struct timespec *)8, NULL, 0));
    show("bad address, value would differ", fx((uint32_t *)8, FUTEX_WAIT_PRIVATE, 1, &short_wait, NULL, 0));
    static const uint32_t constant = 7; /* read-only memory: the kernel reads it all the same */
    show("read-only word, value differs", fx((uint32_t *)&constant, FUTEX_WAIT_PRIVATE, 8, NULL, NULL, 0));
    show("read-only word, value holds",
         fx((uint32_t *)&constant, FUTEX_WAIT_PRIVATE, 7, &short_wait, NULL, 0));
    show("wake nobody", fx(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
    show("getpid by number is not a futex", syscall(SYS_getpid) == getpid());
    char buf[4];
    int p[2];
    if (pipe(p) != 0) return 1;
    if (write(p[1], "abc", 3) != 3) return 1;
    show("read by number", syscall(SYS_read, p[0], buf, sizeof buf));
    show("read by number, bad fd", syscall(SYS_read, -1, buf, sizeof buf));
    if (write(by[1], "x", 1) != 1) return 1;
    pthread_join(bys, NULL);
    return 0;
}

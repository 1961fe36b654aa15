/* rel_preempt: threads that compute without a single call must not stop
 * the others (preemption, runtime/preempt.c). Stock, every thread has a
 * CPU of its own now and then; under gpatch without preemption a thread
 * that never calls keeps its worker. Phases:
 *  1. main spins on a plain flag that a thread sets after a 50 ms sleep;
 *  2. a thread spins on a flag another sets after 50 ms;
 *  3. two threads compute (integer, SSE2 double, x87 long double, each in
 *     its own rounding mode, and AVX where the CPU has it) while a ticker
 *     sleeps 5 ms at a time: the ticker must tick meanwhile, and every
 *     result must be bit-exact (a preemption that lost a register, a
 *     control word or errno would change one);
 *  4. a thread computes holding a mutex that three others take in turn;
 *     others malloc, free and snprintf heavily meanwhile.
 * Output is deterministic (no timings; REL_PREEMPT_GAPS=1 prints the
 * longest tick gap on stderr); alarm bounds a hang. */
#include <errno.h>
#include <fenv.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bound.h"

static volatile int flag;
static volatile int ticker_done;
static volatile long ticks;
static double longest_gap;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void *ticker(void *arg)
{
    (void)arg;
    double last = now();
    while (!ticker_done) {
        usleep(5000);
        double t = now();
        if (t - last > longest_gap) longest_gap = t - last;
        last = t;
        ticks++;
    }
    return NULL;
}

static void *set_later(void *arg)
{
    (void)arg;
    usleep(50000);
    flag = 1;
    return NULL;
}

static void *spin(void *arg)
{
    (void)arg;
    unsigned long n = 0;
    while (!flag) n++;
    (void)n;
    return (void *)1;
}

/* ---- computations, each deterministic ------------------------------------ */
#define ROUNDS 20000000UL

static uint64_t integer_work(uint64_t seed)
{
    uint64_t x = seed;
    for (unsigned long i = 0; i < ROUNDS; i++) x = x * 6364136223846793005ULL + 1442695040888963407ULL + (x >> 29);
    return x;
}

static uint64_t sse_work(int mode)
{
    fesetround(mode);
    double a = 1.0, b = 0.0;
    for (unsigned long i = 0; i < ROUNDS; i++) {
        a = a * 1.0000001 + 1e-9;
        b += a / 3.0;
    }
    int back = fegetround() == mode;
    fesetround(FE_TONEAREST);
    uint64_t ua, ub;
    memcpy(&ua, &a, 8);
    memcpy(&ub, &b, 8);
    return (ua ^ (ub * 31)) + (uint64_t)back;
}

static uint64_t x87_work(int mode)
{
    fesetround(mode);
    long double a = 1.0L, b = 0.0L;
    for (unsigned long i = 0; i < ROUNDS / 2; i++) {
        a = a * 1.0000001L + 1e-12L;
        b += a / 7.0L;
    }
    fesetround(FE_TONEAREST);
    uint64_t u[2] = {0, 0}, v[2] = {0, 0};
    memcpy(u, &a, 10);
    memcpy(v, &b, 10);
    return u[0] ^ u[1] ^ (v[0] * 17) ^ v[1];
}

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx"))) static uint64_t avx_work(void)
{
    __m256d acc = _mm256_set_pd(1.0, 2.0, 3.0, 4.0), k = _mm256_set1_pd(1.00000001), c = _mm256_set1_pd(1e-10);
    __m256d acc2 = _mm256_set_pd(5.0, 6.0, 7.0, 8.0);
    for (unsigned long i = 0; i < ROUNDS; i++) {
        acc = _mm256_add_pd(_mm256_mul_pd(acc, k), c);
        acc2 = _mm256_sub_pd(acc2, _mm256_mul_pd(acc, c));
    }
    double out[8];
    _mm256_storeu_pd(out, acc);
    _mm256_storeu_pd(out + 4, acc2);
    uint64_t h = 0;
    for (int i = 0; i < 8; i++) {
        uint64_t u;
        memcpy(&u, &out[i], 8);
        h = h * 1000003 ^ u;
    }
    return h;
}
#endif

struct job { int which; uint64_t out; int err_ok; };

static void *compute(void *arg)
{
    struct job *j = arg;
    errno = 1000 + j->which; /* errno must survive every preemption */
    uint64_t h = integer_work((uint64_t)j->which + 1);
    h ^= sse_work(j->which ? FE_UPWARD : FE_TOWARDZERO);
    h ^= x87_work(j->which ? FE_DOWNWARD : FE_UPWARD) * 3;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx")) h ^= avx_work() * 5;
#endif
    j->out = h;
    j->err_ok = errno == 1000 + j->which;
    return NULL;
}

/* ---- a computing lock holder, and a busy allocator ----------------------- */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long shared_count;

static void *holder(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    uint64_t x = integer_work(7);
    shared_count += (long)(x & 1) + 1;
    pthread_mutex_unlock(&mu);
    return NULL;
}

static void *taker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&mu);
        shared_count++;
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

static void *allocator(void *arg)
{
    long id = (long)(intptr_t)arg;
    unsigned long sum = 0;
    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)(16 + (i * 37 + id) % 2000);
        char *p = malloc(n);
        if (!p) return (void *)(intptr_t)-1;
        int k = snprintf(p, n, "%ld:%d:%zu", id, i, n);
        for (int c = 0; c < k; c++) sum += (unsigned char)p[c];
        free(p);
    }
    return (void *)(uintptr_t)(sum & 0xffff);
}

int main(void)
{
    alarm(bound_s(60));
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_t t, s, tk;

    /* 1: main spins */
    flag = 0;
    pthread_create(&t, NULL, set_later, NULL);
    while (!flag) {}
    pthread_join(t, NULL);
    printf("main's spin ended\n");

    /* 2: a thread spins */
    flag = 0;
    pthread_create(&s, NULL, spin, NULL);
    pthread_create(&t, NULL, set_later, NULL);
    void *r;
    pthread_join(s, &r);
    pthread_join(t, NULL);
    printf("a thread's spin ended: %s\n", r ? "yes" : "no");

    /* 3: two computing threads and a ticker */
    pthread_create(&tk, NULL, ticker, NULL);
    usleep(20000);
    struct job jobs[2] = {{0, 0, 0}, {1, 0, 0}};
    pthread_t c[2];
    long before = ticks;
    for (int i = 0; i < 2; i++) pthread_create(&c[i], NULL, compute, &jobs[i]);
    for (int i = 0; i < 2; i++) pthread_join(c[i], NULL);
    long during = ticks - before;
    ticker_done = 1;
    pthread_join(tk, NULL);
    for (int i = 0; i < 2; i++)
        printf("computation %d: %016llx, errno kept: %s\n", i, (unsigned long long)jobs[i].out,
               jobs[i].err_ok ? "yes" : "no");
    printf("the ticker ticked while they computed: %s\n", during >= 3 ? "yes" : "no");
    if (getenv("REL_PREEMPT_GAPS")) /* for a person: timings are no output to compare */
        fprintf(stderr, "rel_preempt: %ld ticks during the computation, longest gap %.1f ms\n", during,
                longest_gap * 1000);

    /* 4: a lock held while computing; allocators beside it */
    pthread_t h, tks[3], al[3];
    pthread_create(&h, NULL, holder, NULL);
    for (int i = 0; i < 3; i++) pthread_create(&tks[i], NULL, taker, NULL);
    for (int i = 0; i < 3; i++) pthread_create(&al[i], NULL, allocator, (void *)(intptr_t)i);
    pthread_join(h, NULL);
    for (int i = 0; i < 3; i++) pthread_join(tks[i], NULL);
    for (int i = 0; i < 3; i++) {
        void *v;
        pthread_join(al[i], &v);
        printf("allocator %d: %ld\n", i, (long)(intptr_t)v);
    }
    printf("count under the lock: %ld\n", shared_count);
    return 0;
}

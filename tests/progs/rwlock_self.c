/* rwlock_self — the differential subject for an rwlock locked again by the
 * thread that write-holds it. glibc answers EDEADLK for every blocking lock
 * call (wrlock, rdlock and their timed and clock forms) made by the write
 * holder, EBUSY for its trylocks, and checks a timed call's clock and
 * nanoseconds (EINVAL) before anything else, even on a free lock. Another
 * thread asking for the same lock meanwhile is no deadlock: it waits (its
 * timed calls time out, a plain wrlock gets the lock once the holder lets
 * it go). Threads are ordered by semaphores, never by sleeps; the only
 * waits that expire are timed lock calls on a lock that is held until they
 * have returned. Output is identical stock and under gpatch. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void show(const char *who, const char *what, int r)
{
    printf("%-6s %-44s %s\n", who, what, r == 0 ? "0" : strerrorname_np(r));
    fflush(stdout);
}

static struct timespec in_ms(clockid_t clk, long ms)
{
    struct timespec t;
    clock_gettime(clk, &t);
    t.tv_nsec += (ms % 1000) * 1000000;
    t.tv_sec += ms / 1000 + t.tv_nsec / 1000000000;
    t.tv_nsec %= 1000000000;
    return t;
}

/* every lock call the write holder may make, on rw */
static void self_checks(const char *who, pthread_rwlock_t *rw)
{
    struct timespec rt = in_ms(CLOCK_REALTIME, 2000), mt = in_ms(CLOCK_MONOTONIC, 2000);
    show(who, "wrlock again", pthread_rwlock_wrlock(rw));
    show(who, "timedwrlock", pthread_rwlock_timedwrlock(rw, &rt));
    show(who, "clockwrlock monotonic", pthread_rwlock_clockwrlock(rw, CLOCK_MONOTONIC, &mt));
    show(who, "clockwrlock realtime", pthread_rwlock_clockwrlock(rw, CLOCK_REALTIME, &rt));
    show(who, "rdlock", pthread_rwlock_rdlock(rw));
    show(who, "timedrdlock", pthread_rwlock_timedrdlock(rw, &rt));
    show(who, "clockrdlock monotonic", pthread_rwlock_clockrdlock(rw, CLOCK_MONOTONIC, &mt));
    show(who, "trywrlock", pthread_rwlock_trywrlock(rw));
    show(who, "tryrdlock", pthread_rwlock_tryrdlock(rw));
    struct timespec bad = rt;
    bad.tv_nsec = 1000000000;
    show(who, "timedwrlock, nsec 1e9", pthread_rwlock_timedwrlock(rw, &bad));
    show(who, "clockrdlock, CLOCK_PROCESS_CPUTIME_ID", pthread_rwlock_clockrdlock(rw, CLOCK_PROCESS_CPUTIME_ID, &rt));
}

/* ---- 1: main write-locks before any other thread exists ------------------- */
static pthread_rwlock_t early = PTHREAD_RWLOCK_INITIALIZER;
static sem_t early_go, early_done;

static void *early_other(void *arg)
{
    (void)arg;
    sem_wait(&early_go);
    /* main holds `early`: a timed call from here waits and times out */
    struct timespec t = in_ms(CLOCK_MONOTONIC, 100);
    show("other", "early: clockwrlock while main holds", pthread_rwlock_clockwrlock(&early, CLOCK_MONOTONIC, &t));
    t = in_ms(CLOCK_REALTIME, 100);
    show("other", "early: timedrdlock while main holds", pthread_rwlock_timedrdlock(&early, &t));
    sem_post(&early_done);
    /* then waits for main to let go */
    show("other", "early: wrlock after main let go", pthread_rwlock_wrlock(&early));
    show("other", "early: wrlock again", pthread_rwlock_wrlock(&early));
    show("other", "early: unlock", pthread_rwlock_unlock(&early));
    return NULL;
}

/* ---- 2: a thread write-holds, others ask meanwhile ------------------------ */
static pthread_rwlock_t rw;
static sem_t held, others_done, t3_started, t3_done;
static int t1_unlocked; /* printed by main after the join: t3 may print first */

static void *holder(void *arg)
{
    (void)arg;
    show("t1", "wrlock", pthread_rwlock_wrlock(&rw));
    self_checks("t1", &rw);
    sem_post(&held);
    sem_wait(&others_done);
    t1_unlocked = pthread_rwlock_unlock(&rw);
    sem_wait(&t3_done);
    /* forgotten once unlocked: it may lock again */
    show("t1", "wrlock after unlock", pthread_rwlock_wrlock(&rw));
    show("t1", "unlock", pthread_rwlock_unlock(&rw));
    return NULL;
}

static void *asker(void *arg)
{
    (void)arg;
    sem_wait(&held);
    struct timespec t = in_ms(CLOCK_REALTIME, 100);
    show("t2", "timedwrlock while t1 holds", pthread_rwlock_timedwrlock(&rw, &t));
    t = in_ms(CLOCK_MONOTONIC, 100);
    show("t2", "clockrdlock while t1 holds", pthread_rwlock_clockrdlock(&rw, CLOCK_MONOTONIC, &t));
    show("t2", "trywrlock while t1 holds", pthread_rwlock_trywrlock(&rw));
    show("t2", "tryrdlock while t1 holds", pthread_rwlock_tryrdlock(&rw));
    return NULL;
}

static void *waiter(void *arg)
{
    (void)arg;
    sem_post(&t3_started);
    /* t1 holds rw until t2 and main are done: this waits, then gets it */
    int r = pthread_rwlock_wrlock(&rw);
    show("t3", "wrlock (waited for t1)", r);
    self_checks("t3", &rw);
    show("t3", "unlock", pthread_rwlock_unlock(&rw));
    sem_post(&t3_done);
    return NULL;
}

/* ---- 3: read locks are not write locks ------------------------------------ */
static void read_twice(const char *who, pthread_rwlock_t *l)
{
    show(who, "rdlock", pthread_rwlock_rdlock(l));
    show(who, "rdlock again (recursive read)", pthread_rwlock_rdlock(l));
    show(who, "trywrlock while reading", pthread_rwlock_trywrlock(l));
    show(who, "unlock", pthread_rwlock_unlock(l));
    show(who, "unlock", pthread_rwlock_unlock(l));
    show(who, "wrlock", pthread_rwlock_wrlock(l));
    show(who, "rdlock while writing", pthread_rwlock_rdlock(l));
    show(who, "unlock", pthread_rwlock_unlock(l));
}

int main(void)
{
    sem_init(&early_go, 0, 0);
    sem_init(&early_done, 0, 0);
    sem_init(&held, 0, 0);
    sem_init(&others_done, 0, 0);
    sem_init(&t3_started, 0, 0);
    sem_init(&t3_done, 0, 0);

    /* 1 */
    show("main", "early: wrlock, no other thread yet", pthread_rwlock_wrlock(&early));
    pthread_t o;
    pthread_create(&o, NULL, early_other, NULL);
    self_checks("main", &early);
    sem_post(&early_go);
    sem_wait(&early_done);
    int u = pthread_rwlock_unlock(&early);
    pthread_join(o, NULL); /* it prints once it has the lock: then main */
    show("main", "early: unlock", u);

    /* 1b: the same with the lock taken while threads exist */
    pthread_rwlock_t later;
    pthread_rwlock_init(&later, NULL);
    show("main", "later: wrlock", pthread_rwlock_wrlock(&later));
    self_checks("main", &later);
    show("main", "later: unlock", pthread_rwlock_unlock(&later));
    pthread_rwlock_destroy(&later);

    /* 2: default kind, then writer-preferring non-recursive */
    for (int kind = 0; kind < 2; kind++) {
        pthread_rwlockattr_t a;
        pthread_rwlockattr_init(&a);
        pthread_rwlockattr_setkind_np(&a, kind ? PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
                                               : PTHREAD_RWLOCK_DEFAULT_NP);
        pthread_rwlock_init(&rw, &a);
        printf("-- kind %s\n", kind ? "prefer writer nonrecursive" : "default");
        pthread_t t1, t2, t3;
        pthread_create(&t1, NULL, holder, NULL);
        pthread_create(&t2, NULL, asker, NULL);
        pthread_join(t2, NULL); /* t2 asked while t1 held (it waited on `held`) */
        pthread_create(&t3, NULL, waiter, NULL);
        sem_wait(&t3_started);
        /* main asks too: no deadlock for it either */
        struct timespec t = in_ms(CLOCK_MONOTONIC, 100);
        show("main", "clockwrlock while t1 holds", pthread_rwlock_clockwrlock(&rw, CLOCK_MONOTONIC, &t));
        sem_post(&others_done);
        pthread_join(t1, NULL);
        pthread_join(t3, NULL);
        show("t1", "unlock (when main let it go)", t1_unlocked);
        pthread_rwlock_destroy(&rw);
        pthread_rwlockattr_destroy(&a);
    }

    /* 3 */
    pthread_rwlock_t r3 = PTHREAD_RWLOCK_INITIALIZER;
    read_twice("main", &r3);

    /* a timed call checks its time first, even on a free lock */
    struct timespec bad = in_ms(CLOCK_REALTIME, 1000);
    bad.tv_nsec = -1;
    show("main", "free: timedwrlock, nsec -1", pthread_rwlock_timedwrlock(&r3, &bad));
    show("main", "free: timedrdlock, nsec -1", pthread_rwlock_timedrdlock(&r3, &bad));
    bad.tv_nsec = 0;
    show("main", "free: clockwrlock, CLOCK_THREAD_CPUTIME_ID", pthread_rwlock_clockwrlock(&r3, CLOCK_THREAD_CPUTIME_ID, &bad));
    show("main", "free: trywrlock", pthread_rwlock_trywrlock(&r3));
    show("main", "unlock", pthread_rwlock_unlock(&r3));
    printf("done\n");
    return 0;
}

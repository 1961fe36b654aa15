/* rel_key_reuse — pthread_key_delete, then pthread_key_create handing out
 * the same number again: glibc keeps a sequence number per key, so the new
 * key starts out NULL in every thread, including threads that had set the
 * old one, and its destructor never sees the old key's values (they may
 * have been freed by the program after the delete). Also: setspecific on a
 * deleted key (EINVAL), and a thread that sets the new key gets its own
 * destructor call. Stock is the specification. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "bound.h"

static pthread_key_t k1, k2;
static int old_dtor_calls, new_dtor_calls, stale_seen;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t set_done, reused, checked;
static int old_val[4], new_val[4];
static int reads_null[4], set_r[4], own_back[4]; /* printed by main, in order */

static void old_dtor(void *v)
{
    (void)v;
    __atomic_add_fetch(&old_dtor_calls, 1, __ATOMIC_RELAXED);
}

static void new_dtor(void *v)
{
    pthread_mutex_lock(&mu);
    new_dtor_calls++;
    if (v < (void *)new_val || v >= (void *)(new_val + 4)) stale_seen++; /* an old key's value */
    pthread_mutex_unlock(&mu);
}

/* threads 0 and 1 set the old key, 2 and 3 never do; 1 and 3 set the new one */
static void *worker(void *arg)
{
    int i = (int)(long)arg;
    if (i < 2) pthread_setspecific(k1, &old_val[i]);
    pthread_barrier_wait(&set_done);
    pthread_barrier_wait(&reused); /* main deleted k1 and created k2 meanwhile */
    reads_null[i] = pthread_getspecific(k2) == NULL;
    if (i & 1) {
        set_r[i] = pthread_setspecific(k2, &new_val[i]);
        own_back[i] = pthread_getspecific(k2) == &new_val[i];
    }
    pthread_barrier_wait(&checked);
    return NULL;
}

/* a thread that sets a key, which main deletes, then the thread sets the
 * deleted key again */
static pthread_barrier_t gone_a, gone_b;
static void *late(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&gone_a);
    pthread_barrier_wait(&gone_b); /* k2 deleted now */
    int r = pthread_setspecific(k2, &new_val[0]);
    printf("late: setspecific on a deleted key: %s\n", r == EINVAL ? "EINVAL" : r == 0 ? "0" : strerror(r));
    return NULL;
}

int main(void)
{
    alarm(bound_s(20));
    setvbuf(stdout, NULL, _IONBF, 0);
    pthread_barrier_init(&set_done, NULL, 5);
    pthread_barrier_init(&reused, NULL, 5);
    pthread_barrier_init(&checked, NULL, 5);
    if (pthread_key_create(&k1, old_dtor)) return 1;
    pthread_t t[4];
    for (long i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    pthread_barrier_wait(&set_done);
    pthread_key_delete(k1);
    if (pthread_key_create(&k2, new_dtor)) return 1;
    printf("new key reuses the number: %s\n", k2 == k1 ? "yes" : "no");
    printf("main: new key reads %s\n", pthread_getspecific(k2) == NULL ? "NULL" : "an old value");
    pthread_barrier_wait(&reused);
    pthread_barrier_wait(&checked);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) {
        printf("thread %d: new key read %s", i, reads_null[i] ? "NULL" : "an old value");
        if (i & 1) printf("; setspecific: %d, read back its own: %s", set_r[i], own_back[i] ? "yes" : "no");
        printf("\n");
    }
    printf("old destructor calls: %d\n", old_dtor_calls);
    printf("new destructor calls: %d, on stale values: %d\n", new_dtor_calls, stale_seen);

    /* a key reused many times over: each generation starts empty */
    int ok = 1;
    for (int round = 0; round < 50 && ok; round++) {
        pthread_key_t a, b;
        pthread_key_create(&a, NULL);
        pthread_setspecific(a, &old_val[0]);
        pthread_key_delete(a);
        pthread_key_create(&b, NULL);
        if (pthread_getspecific(b) != NULL) ok = 0;
        pthread_key_delete(b);
    }
    printf("main: 50 reuses start empty: %s\n", ok ? "yes" : "no");

    pthread_barrier_init(&gone_a, NULL, 2);
    pthread_barrier_init(&gone_b, NULL, 2);
    pthread_key_create(&k2, new_dtor);
    pthread_t l;
    pthread_create(&l, NULL, late, NULL);
    pthread_barrier_wait(&gone_a);
    pthread_key_delete(k2);
    pthread_barrier_wait(&gone_b);
    pthread_join(l, NULL);
    printf("new destructor calls at the end: %d\n", new_dtor_calls);
    return 0;
}

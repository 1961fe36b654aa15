/* rel_pshared_owner — a process-shared mutex (glibc keeps it, and records
 * its owner as the OS thread id) held by one thread is not another's: its
 * trylock is EBUSY and, for recursive and errorcheck ones, its unlock is
 * EPERM. Under gpatch green threads share their worker's OS thread id, so
 * glibc took a thread for the owner of main's lock (Open POSIX
 * pthread_mutex_trylock/1-2, 2-1, 4-2: a recursive trylock succeeded).
 * Locked by main before any thread exists, and by main and by a thread
 * after. Stock is the specification; alarm(20). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t m;
static const char *names[] = {"normal", "recursive", "errorcheck"};
static int types[] = {PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_RECURSIVE, PTHREAD_MUTEX_ERRORCHECK};
static int cur;

static const char *err(int r) { return r == 0 ? "0" : r == EBUSY ? "EBUSY" : r == EPERM ? "EPERM" : r == EDEADLK ? "EDEADLK" : "other"; }

static void *other(void *arg)
{
    (void)arg;
    int t = pthread_mutex_trylock(&m);
    printf("  %s, other thread: trylock %s", names[cur], err(t));
    if (t == 0) pthread_mutex_unlock(&m);
    else if (types[cur] != PTHREAD_MUTEX_NORMAL) printf(", unlock %s", err(pthread_mutex_unlock(&m)));
    printf("\n");
    return NULL;
}

static void *holder(void *arg)
{
    (void)arg;
    printf("  %s, holder thread: lock %s\n", names[cur], err(pthread_mutex_lock(&m)));
    pthread_t t;
    pthread_create(&t, NULL, other, NULL);
    pthread_join(t, NULL);
    printf("  %s, holder thread: unlock %s\n", names[cur], err(pthread_mutex_unlock(&m)));
    return NULL;
}

static void init(int i)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, types[i]);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&m, &a);
    pthread_mutexattr_destroy(&a);
    cur = i;
}

int main(void)
{
    alarm(20);
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < 3; i++) {
        init(i);
        printf("%s, main: lock %s\n", names[i], err(pthread_mutex_lock(&m))); /* before any thread, at i == 0 */
        pthread_t t;
        pthread_create(&t, NULL, other, NULL);
        pthread_join(t, NULL);
        printf("%s, main: unlock %s\n", names[i], err(pthread_mutex_unlock(&m)));
        pthread_create(&t, NULL, holder, NULL);
        pthread_join(t, NULL);
        pthread_mutex_destroy(&m);
    }
    return 0;
}

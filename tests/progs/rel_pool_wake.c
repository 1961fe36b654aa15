/* rel_pool_wake: 64 threads each make many calls that gpatch hands to its
 * helper pool (a reverse lookup of 127.0.0.1 without NI_NUMERICHOST must ask
 * the resolver; an uncontended flock() without LOCK_NB). Every call's
 * completion wakes a parked green thread from a helper OS thread: a lost
 * wake-up parks a thread forever and the program hangs. Prints a summary
 * that does not depend on timing. */
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define THREADS 64
#ifndef ROUNDS
#define ROUNDS 3000
#endif

static int lockfd[THREADS];
static long lookups_ok[THREADS], locks_ok[THREADS];
static char first_name[THREADS][NI_MAXHOST];

static void *worker(void *arg)
{
    long id = (long)arg;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(80);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < ROUNDS; i++) {
        if (i % 2 == 0) {
            char host[NI_MAXHOST];
            int r = getnameinfo((struct sockaddr *)&sa, sizeof sa, host, sizeof host, NULL, 0, 0);
            if (r == 0) {
                if (!lookups_ok[id]) strcpy(first_name[id], host);
                lookups_ok[id] += strcmp(host, first_name[id]) == 0;
            }
        } else {
            if (flock(lockfd[id], LOCK_EX) == 0 && flock(lockfd[id], LOCK_UN) == 0) locks_ok[id]++;
        }
    }
    return NULL;
}

int main(void)
{
    for (int i = 0; i < THREADS; i++) {
        FILE *f = tmpfile();
        if (!f) {
            perror("tmpfile");
            return 1;
        }
        lockfd[i] = dup(fileno(f));
        fclose(f);
    }
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)i) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    long lookups = 0, locks = 0;
    int same = 1;
    for (int i = 0; i < THREADS; i++) {
        lookups += lookups_ok[i];
        locks += locks_ok[i];
        if (strcmp(first_name[i], first_name[0]) != 0) same = 0;
    }
    printf("threads %d rounds %d\n", THREADS, ROUNDS);
    printf("lookups %ld of %d, one name for all: %s\n", lookups, THREADS * ((ROUNDS + 1) / 2), same ? "yes" : "no");
    printf("locks %ld of %d\n", locks, THREADS * (ROUNDS / 2));
    return 0;
}

/* rel_selfdetach — a common shutdown: main keeps its clients' thread ids and
 * joins each, while a finishing client detaches itself and exits. Joining a
 * thread that detached itself gives EINVAL whether it has exited or not;
 * joining one already joined gives ESRCH. Each round also asks the other
 * calls that take an exited thread's id (detach, pthread_kill 0), and a
 * second kind of client is joined normally. All clients of a round are alive
 * together (so no two share an id) and their stacks are small (so glibc
 * keeps an exited one's descriptor in its cache instead of unmapping it:
 * the stock run is the specification and must not crash). Prints every
 * answer. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ROUNDS 20
#define CLIENTS 16

static sem_t finished, go;

static void *client(void *arg)
{
    long i = (long)arg;
    if (i % 2 == 0) {
        int r = pthread_detach(pthread_self());
        if (r) printf("client %ld: detach self %d\n", i, r);
    }
    sem_post(&finished);
    sem_wait(&go);
    return (void *)i;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    sem_init(&finished, 0, 0);
    sem_init(&go, 0, 0);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 * 1024);
    for (int round = 0; round < ROUNDS; round++) {
        pthread_t ids[CLIENTS];
        for (long i = 0; i < CLIENTS; i++) {
            int r = pthread_create(&ids[i], &a, client, (void *)i);
            if (r) {
                printf("pthread_create: %d\n", r);
                return 1;
            }
        }
        for (int i = 0; i < CLIENTS; i++) sem_wait(&finished);
        for (int i = 0; i < CLIENTS; i++) sem_post(&go);
        usleep(20 * 1000); /* the detached ones are gone by now (or not: the answers are the same) */
        char line[512];
        int n = snprintf(line, sizeof line, "round %d:", round);
        for (int i = 0; i < CLIENTS; i++) {
            if (i % 2) continue;
            void *ret = NULL;
            int j = pthread_join(ids[i], &ret);
            int d = pthread_detach(ids[i]);
            int k = pthread_kill(ids[i], 0);
            n += snprintf(line + n, sizeof line - n, " %s/%s/%d", strerrorname_np(j) ? strerrorname_np(j) : "0",
                          strerrorname_np(d) ? strerrorname_np(d) : "0", k);
        }
        printf("%s\n", line);
        /* the joinable ones: joined, then asked again (ESRCH: freed) */
        n = snprintf(line, sizeof line, "  joinable:");
        for (int i = 1; i < CLIENTS; i += 2) {
            void *ret = NULL;
            int j = pthread_join(ids[i], &ret);
            n += snprintf(line + n, sizeof line - n, " %d=%ld", j, (long)ret);
        }
        printf("%s\n", line);
        /* joined ones, once more, before any thread is created again */
        n = snprintf(line, sizeof line, "  joined again:");
        for (int i = 1; i < CLIENTS; i += 2)
            n += snprintf(line + n, sizeof line - n, " %s", strerrorname_np(pthread_join(ids[i], NULL)));
        printf("%s\n", line);
    }
    printf("shutdown complete\n");
    return 0;
}

/* tls_threads — thread-local storage is per thread, across blocking calls.
 * Each thread keeps its identity in __thread variables, blocks in every way
 * a thread-per-connection server does (sleep, a pipe read, a contended
 * mutex, a condition wait), and checks that its variables are still its
 * own, that errno is its own (also through an address taken before the
 * blocking calls, as compiled code caches &errno), and that errno set before
 * a successful call is left as it was. Stock is the specification. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define N 64

static __thread int my_id = -1;
static __thread char my_name[32];
static __thread int counter; /* bss: starts at 0 in every thread */
static int *id_addr[N];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int arrived, mismatches, errno_wrong, fresh_wrong;
static int pipes[N][2];

static void check(int id, const char *where)
{
    char want[32];
    snprintf(want, sizeof want, "thread-%d", id);
    if (my_id != id || strcmp(my_name, want) != 0) {
        pthread_mutex_lock(&mu);
        mismatches++;
        pthread_mutex_unlock(&mu);
        (void)where;
    }
}

static void *run(void *arg)
{
    int id = (int)(long)arg;
    if (my_id != -1 || counter != 0 || my_name[0]) fresh_wrong++; /* each thread starts from the image */
    my_id = id;
    snprintf(my_name, sizeof my_name, "thread-%d", id);
    id_addr[id] = &my_id;
    int *e = &errno; /* as compiled code keeps it */
    for (int round = 0; round < 5; round++) {
        counter++;
        usleep(1000 + (id % 7) * 100);
        check(id, "sleep");
        char c;
        if (write(pipes[(id + 1) % N][1], "x", 1) != 1) return NULL;
        if (read(pipes[id][0], &c, 1) != 1) return NULL;
        check(id, "read");
        errno = 1000 + id; /* a successful blocking call leaves it alone */
        pthread_mutex_lock(&mu);
        usleep(100);
        pthread_mutex_unlock(&mu);
        if (errno != 1000 + id) errno_wrong++;
        check(id, "mutex");
        if (read(-1, &c, 1) != -1 || *e != EBADF) errno_wrong++;
        usleep(500);
        if (*e != EBADF || errno != EBADF) errno_wrong++; /* still ours after others ran */
    }
    pthread_mutex_lock(&mu);
    arrived++;
    if (arrived == N) pthread_cond_broadcast(&cv);
    while (arrived < N) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    check(id, "cond");
    if (counter != 5) mismatches++;
    return NULL;
}

int main(void)
{
    pthread_t t[N];
    for (int i = 0; i < N; i++)
        if (pipe(pipes[i]) != 0) return 1;
    my_id = 12345;
    for (int i = 0; i < N; i++) pthread_create(&t[i], NULL, run, (void *)(long)i);
    for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
    int distinct = 1;
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (id_addr[i] == id_addr[j]) distinct = 0;
    printf("threads %d\n", N);
    printf("fresh TLS in every thread: %s\n", fresh_wrong ? "no" : "yes");
    printf("__thread values lost across blocking calls: %d\n", mismatches);
    printf("errno wrong: %d\n", errno_wrong);
    printf("every thread's __thread variable at its own address: %s\n", distinct ? "yes" : "no");
    printf("main's own value kept: %d\n", my_id);
    return 0;
}

/* rel_pshared.c — process-shared synchronisation objects between a parent and
 * its forked child, through MAP_SHARED memory: a mutex + condition variable
 * ping-pong, a two-party barrier, a pair of semaphores, a rwlock, a named
 * semaphore. Run twice: first with no thread at all, then with threads in the
 * parent (the ping-pong done by one of them, another waiting meanwhile on a
 * process-private condition variable), so a green-thread runtime is active;
 * then between two threads of the parent alone; last, a thread wants a
 * shared mutex that another holds while it waits for a private one.
 * Prints the totals each side counted; stock and preloaded must agree. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bound.h"

#define ROUNDS 500
#define SEM_ROUNDS 200
#define RW_ROUNDS 50

struct shared {
    pthread_mutex_t m;
    pthread_cond_t c;
    pthread_barrier_t b;
    pthread_rwlock_t rw;
    sem_t to_child, to_parent;
    int turn;          /* 0: the parent's, 1: the child's */
    int pings, pongs;  /* cond rounds each side saw */
    int serial[2];     /* PTHREAD_BARRIER_SERIAL_THREAD, per side */
    int sem_rounds[2];
    int rw_value, rw_seen;
};

static struct shared *sh;
static char named[64];

static void die(const char *what, int e)
{
    fprintf(stderr, "%s: %s\n", what, strerror(e));
    exit(2);
}

static void init_shared(void)
{
    memset(sh, 0, sizeof *sh);
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    int e = pthread_mutex_init(&sh->m, &ma);
    if (e) die("mutex_init", e);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    if ((e = pthread_cond_init(&sh->c, &ca))) die("cond_init", e);
    pthread_barrierattr_t ba;
    pthread_barrierattr_init(&ba);
    pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
    if ((e = pthread_barrier_init(&sh->b, &ba, 2))) die("barrier_init", e);
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setpshared(&ra, PTHREAD_PROCESS_SHARED);
    if ((e = pthread_rwlock_init(&sh->rw, &ra))) die("rwlock_init", e);
    if (sem_init(&sh->to_child, 1, 0) || sem_init(&sh->to_parent, 1, 0)) die("sem_init", errno);
}

static void destroy_shared(void)
{
    int e;
    if ((e = pthread_cond_destroy(&sh->c))) die("cond_destroy", e);
    if ((e = pthread_mutex_destroy(&sh->m))) die("mutex_destroy", e);
    if ((e = pthread_barrier_destroy(&sh->b))) die("barrier_destroy", e);
    if ((e = pthread_rwlock_destroy(&sh->rw))) die("rwlock_destroy", e);
    sem_destroy(&sh->to_child);
    sem_destroy(&sh->to_parent);
}

/* one side's whole exchange; side 0 is the parent */
static void play(int side)
{
    sem_t *mine = side ? &sh->to_child : &sh->to_parent, *theirs = side ? &sh->to_parent : &sh->to_child;
    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&sh->m);
        while (sh->turn != side) pthread_cond_wait(&sh->c, &sh->m);
        if (side) sh->pongs++;
        else sh->pings++;
        sh->turn = !side;
        pthread_cond_signal(&sh->c);
        pthread_mutex_unlock(&sh->m);
        int r = pthread_barrier_wait(&sh->b);
        if (r == PTHREAD_BARRIER_SERIAL_THREAD) sh->serial[side]++;
        else if (r != 0) die("barrier_wait", r);
    }
    for (int i = 0; i < SEM_ROUNDS; i++) {
        if (side == 0 && sem_post(theirs)) die("sem_post", errno);
        while (sem_wait(mine) != 0)
            if (errno != EINTR) die("sem_wait", errno);
        sh->sem_rounds[side]++;
        if (side == 1 && sem_post(theirs)) die("sem_post", errno);
    }
    /* the child writes under the write lock, the parent reads each value
     * under the read lock; the barrier paces them */
    for (int i = 0; i < RW_ROUNDS; i++) {
        if (side) {
            pthread_rwlock_wrlock(&sh->rw);
            pthread_barrier_wait(&sh->b); /* the parent now blocks in rdlock */
            sh->rw_value++;
            pthread_rwlock_unlock(&sh->rw);
        } else {
            pthread_barrier_wait(&sh->b);
            pthread_rwlock_rdlock(&sh->rw);
            if (sh->rw_value == i + 1) sh->rw_seen++;
            pthread_rwlock_unlock(&sh->rw);
        }
        pthread_barrier_wait(&sh->b);
    }
    /* a named semaphore: always process-shared */
    sem_t *ns = sem_open(named, 0);
    if (ns == SEM_FAILED) die("sem_open", errno);
    for (int i = 0; i < SEM_ROUNDS; i++) {
        if (side == 0) {
            if (sem_post(ns)) die("named post", errno);
            pthread_barrier_wait(&sh->b);
        } else {
            pthread_barrier_wait(&sh->b);
            while (sem_wait(ns) != 0)
                if (errno != EINTR) die("named wait", errno);
        }
    }
    sem_close(ns);
}

/* ---- the second run: threads in the parent ---------------------------------- */
static pthread_mutex_t pm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pc = PTHREAD_COND_INITIALIZER;
static int finished;

static void *player(void *arg)
{
    (void)arg;
    play(0);
    pthread_mutex_lock(&pm);
    finished = 1;
    pthread_cond_broadcast(&pc);
    pthread_mutex_unlock(&pm);
    return NULL;
}

static void *bystander(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pm);
    while (!finished) pthread_cond_wait(&pc, &pm);
    pthread_mutex_unlock(&pm);
    return (void *)1;
}

static int run(int threads)
{
    init_shared();
    sem_unlink(named);
    sem_t *ns = sem_open(named, O_CREAT | O_EXCL, 0600, 0);
    if (ns == SEM_FAILED) die("sem_open create", errno);
    sem_close(ns);
    pid_t parent = getpid();
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) die("fork", errno);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a killed parent */
        if (getppid() != parent) _exit(3);
        play(1);
        _exit(0);
    }
    if (threads) {
        pthread_t p, b;
        finished = 0;
        if (pthread_create(&b, NULL, bystander, NULL) || pthread_create(&p, NULL, player, NULL)) die("create", EAGAIN);
        void *rb;
        pthread_join(p, NULL);
        pthread_join(b, &rb);
        if (rb != (void *)1) die("bystander", EINVAL);
    } else {
        play(0);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid) die("waitpid", errno);
    sem_unlink(named);
    printf("%s: child status %d; cond pings %d pongs %d turn %d; barrier serial %d; "
           "sem rounds %d/%d; rwlock value %d seen %d\n",
           threads ? "threads" : "plain", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), sh->pings,
           sh->pongs, sh->turn, sh->serial[0] + sh->serial[1], sh->sem_rounds[0], sh->sem_rounds[1],
           sh->rw_value, sh->rw_seen);
    destroy_shared();
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* the same objects between two threads of one process: a process-shared
 * object must work within a process too */
static void *side_thread(void *arg)
{
    play((int)(long)arg);
    return NULL;
}

static int run_within(void)
{
    init_shared();
    sem_unlink(named);
    sem_t *ns = sem_open(named, O_CREAT | O_EXCL, 0600, 0);
    if (ns == SEM_FAILED) die("sem_open create", errno);
    sem_close(ns);
    pthread_t a, b;
    if (pthread_create(&a, NULL, side_thread, (void *)0L) || pthread_create(&b, NULL, side_thread, (void *)1L))
        die("create", EAGAIN);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    sem_unlink(named);
    printf("within: cond pings %d pongs %d turn %d; barrier serial %d; sem rounds %d/%d; rwlock value %d seen %d\n",
           sh->pings, sh->pongs, sh->turn, sh->serial[0] + sh->serial[1], sh->sem_rounds[0], sh->sem_rounds[1],
           sh->rw_value, sh->rw_seen);
    destroy_shared();
    return 1;
}

/* a thread that holds a process-shared mutex waits for a private one; a
 * third thread then wants the shared one: it must wait without stopping
 * the thread that holds the private one */
static pthread_mutex_t priv = PTHREAD_MUTEX_INITIALIZER;
static int order[3], norder;

static void note(int who)
{
    pthread_mutex_lock(&pm);
    order[norder++] = who;
    pthread_mutex_unlock(&pm);
}

/* the order is made by semaphores, not by sleeps: under load a sleep's
 * timing is not an order (stock printed "no" on a loaded machine) */
static sem_t got_priv, got_m;

static void *priv_holder(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&priv);
    sem_post(&got_priv);
    usleep(100 * 1000); /* the others are now waiting, most likely: not required */
    note(1);
    pthread_mutex_unlock(&priv);
    return NULL;
}

static void *shared_holder(void *arg)
{
    (void)arg;
    sem_wait(&got_priv);
    pthread_mutex_lock(&sh->m);
    sem_post(&got_m);
    pthread_mutex_lock(&priv);
    pthread_mutex_unlock(&priv);
    note(2);
    pthread_mutex_unlock(&sh->m);
    return NULL;
}

static void *shared_wanter(void *arg)
{
    (void)arg;
    sem_wait(&got_m);
    pthread_mutex_lock(&sh->m);
    note(3);
    pthread_mutex_unlock(&sh->m);
    return NULL;
}

static int run_parked_holder(void)
{
    init_shared();
    sem_init(&got_priv, 0, 0);
    sem_init(&got_m, 0, 0);
    pthread_t t[3];
    void *(*fn[3])(void *) = {priv_holder, shared_holder, shared_wanter};
    for (int i = 0; i < 3; i++)
        if (pthread_create(&t[i], NULL, fn[i], NULL)) die("create", EAGAIN);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    printf("parked holder: %d threads done, the holder of the shared mutex before its next owner: %s\n", norder,
           norder == 3 && order[0] == 1 && order[1] == 2 && order[2] == 3 ? "yes" : "no");
    destroy_shared();
    return norder == 3;
}

int main(void)
{
    alarm(bound_s(120)); /* a hang ends as a failure, not as a stuck test */
    snprintf(named, sizeof named, "/rel_pshared.%d", (int)getpid());
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) die("mmap", errno);
    int ok = run(0);
    ok &= run(1);
    ok &= run_within();
    ok &= run_parked_holder();
    return ok ? 0 : 1;
}

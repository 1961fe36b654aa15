/* tls_stdio — flockfile holds a stream across blocking calls. One thread at a
 * time locks stdout with flockfile, writes the first half of a line, blocks
 * (a pipe write and read, a sleep), writes the second half and unlocks; the
 * other threads printf whole lines meanwhile. Whatever the order, no line may
 * be cut in two by another thread's output. stdout goes to a temporary file;
 * at the end the file is read back and the count of whole and torn lines is
 * printed on the original stdout. Then one thread holds stdout across a sleep
 * while another forks, and the child prints on it. Stock is the
 * specification. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOCKERS 4
#define PRINTERS 12
#define ROUNDS 20

static int pipes[LOCKERS][2];

static void *locker(void *arg)
{
    int id = (int)(long)arg;
    for (int r = 0; r < ROUNDS; r++) {
        flockfile(stdout);
        printf("locked %d.%d begin", id, r);
        fflush(stdout); /* the first half reaches the file while we block */
        char c = 'x';
        if (write(pipes[id][1], &c, 1) != 1 || read(pipes[id][0], &c, 1) != 1) abort();
        usleep(2000);
        if (ftrylockfile(stdout) != 0) abort(); /* ours: recursive */
        printf(" middle");
        funlockfile(stdout);
        usleep(1000);
        printf(" end\n");
        funlockfile(stdout);
        usleep(500);
    }
    return NULL;
}

/* the fork round: one thread holds stdout across a sleep while another
 * forks; the child prints a line on stdout (stock: glibc unlocks every
 * stream in the child) */
static pthread_mutex_t fm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fc = PTHREAD_COND_INITIALIZER;
static int holding;
static void *holder(void *arg)
{
    flockfile(stdout);
    fflush(stdout); /* nothing buffered when the other forks */
    pthread_mutex_lock(&fm);
    holding = 1;
    pthread_cond_signal(&fc);
    pthread_mutex_unlock(&fm);
    usleep(200000);
    funlockfile(stdout);
    return arg;
}
static void *forker(void *arg)
{
    pthread_mutex_lock(&fm);
    while (!holding) pthread_cond_wait(&fc, &fm);
    pthread_mutex_unlock(&fm);
    pid_t p = fork();
    if (p == 0) {
        printf("forked child whole\n");
        fflush(stdout);
        _exit(0);
    }
    int st = -1;
    if (p < 0 || waitpid(p, &st, 0) != p || st != 0) abort();
    return arg;
}

static void *printer(void *arg)
{
    int id = (int)(long)arg;
    for (int r = 0; r < ROUNDS * 4; r++) {
        printf("printer %d.%d whole\n", id, r);
        if (r % 8 == 0) fflush(stdout);
        usleep(300 + id * 50);
    }
    return NULL;
}

int main(void)
{
    FILE *tmp = tmpfile();
    int out = dup(1);
    if (!tmp || out < 0) return 1;
    fflush(stdout);
    dup2(fileno(tmp), 1); /* stdout: fully buffered, into the file */
    setvbuf(stdout, NULL, _IOFBF, 256);
    for (int i = 0; i < LOCKERS; i++)
        if (pipe(pipes[i])) return 1;
    pthread_t t[LOCKERS + PRINTERS];
    for (int i = 0; i < LOCKERS; i++) pthread_create(&t[i], NULL, locker, (void *)(long)i);
    for (int i = 0; i < PRINTERS; i++) pthread_create(&t[LOCKERS + i], NULL, printer, (void *)(long)i);
    for (int i = 0; i < LOCKERS + PRINTERS; i++) pthread_join(t[i], NULL);
    pthread_t h, f;
    pthread_create(&h, NULL, holder, NULL);
    pthread_create(&f, NULL, forker, NULL);
    pthread_join(f, NULL);
    pthread_join(h, NULL);
    fflush(stdout);
    rewind(tmp);
    FILE *o = fdopen(out, "w");
    char line[256];
    int locked = 0, whole = 0, torn = 0, forked = 0;
    while (fgets(line, sizeof line, tmp)) {
        int a, b, n = -1;
        if (sscanf(line, "locked %d.%d begin middle end\n%n", &a, &b, &n) == 2 && n == (int)strlen(line))
            locked++;
        else if (sscanf(line, "printer %d.%d whole\n%n", &a, &b, &n) == 2 && n == (int)strlen(line))
            whole++;
        else if (strcmp(line, "forked child whole\n") == 0)
            forked++;
        else {
            if (torn < 3) fprintf(stderr, "torn: %s", line);
            torn++;
        }
    }
    fprintf(o, "lines written under flockfile, whole: %d of %d\n", locked, LOCKERS * ROUNDS);
    fprintf(o, "lines printed by the others, whole: %d of %d\n", whole, PRINTERS * ROUNDS * 4);
    fprintf(o, "lines from a child forked while another thread held stdout: %d\n", forked);
    fprintf(o, "torn lines: %d\n", torn);
    fclose(o);
    return torn != 0;
}

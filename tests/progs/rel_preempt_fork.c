/* rel_preempt_fork: processes made while threads compute (and are
 * preempted) must not die of gpatch's preemption signal, nor inherit a
 * state that hangs them: a thread forks 40 children that compute a little
 * and exit with a code of their own; 10 children that make two computing
 * threads of their own (a fresh runtime in the child: its own preemption);
 * posix_spawn and system() of /bin/sh; and the parent computes all along.
 * Every status must be the one the child chose. Deterministic output;
 * alarm bounds a hang. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bound.h"

extern char **environ;
static volatile int done;

static void *compute(void *arg)
{
    volatile unsigned long x = (unsigned long)arg;
    while (!done) x = x * 6364136223846793005ULL + 1;
    return NULL;
}

static void *compute_for(void *arg)
{
    volatile unsigned long x = 1;
    for (unsigned long i = 0; i < (unsigned long)arg; i++) x = x * 6364136223846793005ULL + 1;
    return NULL;
}

static const char *how(int st, char *buf, size_t n)
{
    if (WIFEXITED(st)) snprintf(buf, n, "exit %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st)) snprintf(buf, n, "signal %d", WTERMSIG(st));
    else snprintf(buf, n, "other");
    return buf;
}

static void *forker(void *arg)
{
    (void)arg;
    char b[32];
    int right = 0;
    for (int i = 0; i < 40; i++) {
        pid_t p = fork();
        if (p == 0) {
            compute_for((void *)(2000000UL + 100000UL * (unsigned long)i));
            _exit(i % 50);
        }
        int st;
        waitpid(p, &st, 0);
        if (WIFEXITED(st) && WEXITSTATUS(st) == i % 50) right++;
        else printf("fork %d: %s\n", i, how(st, b, sizeof b));
    }
    printf("plain children with their own status: %d of 40\n", right);
    right = 0;
    for (int i = 0; i < 10; i++) {
        pid_t p = fork();
        if (p == 0) {
            pthread_t t[2];
            for (int k = 0; k < 2; k++) pthread_create(&t[k], NULL, compute_for, (void *)30000000UL);
            for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
            _exit(100 + i);
        }
        int st;
        waitpid(p, &st, 0);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 100 + i) right++;
        else printf("threaded child %d: %s\n", i, how(st, b, sizeof b));
    }
    printf("threaded children with their own status: %d of 10\n", right);
    right = 0;
    for (int i = 0; i < 10; i++) {
        char code[64];
        snprintf(code, sizeof code, "i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; exit %d", i + 3);
        char *argv[] = {"sh", "-c", code, NULL};
        pid_t p;
        int st = -1;
        if (posix_spawn(&p, "/bin/sh", NULL, NULL, argv, environ) == 0) waitpid(p, &st, 0);
        if (WIFEXITED(st) && WEXITSTATUS(st) == i + 3) right++;
        else printf("spawn %d: %s\n", i, how(st, b, sizeof b));
        st = system(code);
        if (WIFEXITED(st) && WEXITSTATUS(st) == i + 3) right++;
        else printf("system %d: %s\n", i, how(st, b, sizeof b));
    }
    printf("spawned and system() with their own status: %d of 20\n", right);
    return NULL;
}

int main(void)
{
    alarm(bound_s(60));
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_t c[2], f;
    for (int i = 0; i < 2; i++) pthread_create(&c[i], NULL, compute, (void *)(long)(i + 1));
    pthread_create(&f, NULL, forker, NULL);
    pthread_join(f, NULL);
    done = 1;
    for (int i = 0; i < 2; i++) pthread_join(c[i], NULL);
    printf("done\n");
    return 0;
}

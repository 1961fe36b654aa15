/* exit_main — main calls pthread_exit while its threads still work: the
 * process lives until the last one ends (exit status 0), as stock. A thread
 * on a program-provided stack (pthread_attr_setstack) checks where it runs.
 * The threads print in turn (a condition variable passes the turn), so the
 * output does not depend on how sleeps happen to order on a loaded machine. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static unsigned turn; /* 0: main prints, 1: the setstack thread, then workers 1, 2, 3 */

static void print_in_turn(unsigned mine, const char *line)
{
    pthread_mutex_lock(&mu);
    while (turn != mine) pthread_cond_wait(&cv, &mu);
    fputs(line, stdout);
    fflush(stdout);
    turn++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static char stack_area[256 * 1024] __attribute__((aligned(4096)));

static void *worker(void *arg)
{
    usleep(50000 * (unsigned)(uintptr_t)arg);
    char line[64];
    snprintf(line, sizeof line, "worker %lu done\n", (unsigned long)(uintptr_t)arg);
    print_in_turn((unsigned)(uintptr_t)arg + 1, line);
    return NULL;
}

static void *on_my_stack(void *arg)
{
    int local;
    int inside = (char *)&local >= stack_area && (char *)&local < stack_area + sizeof stack_area;
    usleep(20000);
    print_in_turn(1, inside ? "setstack thread runs on the given stack: 1\n"
                            : "setstack thread runs on the given stack: 0\n");
    return arg;
}

static void bye(void) { puts("atexit handler ran"); }

int main(void)
{
    atexit(bye);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstack(&a, stack_area, sizeof stack_area);
    pthread_t t;
    pthread_create(&t, &a, on_my_stack, NULL);
    pthread_detach(t);
    for (uintptr_t i = 1; i <= 3; i++) {
        pthread_create(&t, NULL, worker, (void *)i);
        pthread_detach(t);
    }
    print_in_turn(0, "main calls pthread_exit\n");
    pthread_exit(NULL);
}

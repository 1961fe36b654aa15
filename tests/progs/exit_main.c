/* exit_main — main calls pthread_exit while its threads still work: the
 * process lives until the last one ends (exit status 0), as stock. A thread
 * on a program-provided stack (pthread_attr_setstack) checks where it runs. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char stack_area[256 * 1024] __attribute__((aligned(4096)));

static void *worker(void *arg)
{
    usleep(50000 * (unsigned)(uintptr_t)arg);
    printf("worker %lu done\n", (unsigned long)(uintptr_t)arg);
    fflush(stdout);
    return NULL;
}

static void *on_my_stack(void *arg)
{
    int local;
    int inside = (char *)&local >= stack_area && (char *)&local < stack_area + sizeof stack_area;
    usleep(20000);
    printf("setstack thread runs on the given stack: %d\n", inside);
    fflush(stdout);
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
    puts("main calls pthread_exit");
    fflush(stdout);
    pthread_exit(NULL);
}

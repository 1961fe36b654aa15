#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
static __thread unsigned long acc;
static void *run(void *a)
{
    unsigned long id = (unsigned long)a;
    acc = 0;
    for (unsigned long i = 0; i < 100000000UL; i++) { acc += i * id; __asm__ volatile("" ::: "memory"); }
    return (void *)acc;
}
int main(void)
{
    alarm(30);
    pthread_t t[3];
    for (long i = 0; i < 3; i++) pthread_create(&t[i], NULL, run, (void *)(i + 1));
    for (int i = 0; i < 3; i++) { void *r; pthread_join(t[i], &r); printf("thread %d: %lx\n", i, (unsigned long)r); }
    return 0;
}

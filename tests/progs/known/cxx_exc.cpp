// threads throw and catch in tight loops, computing inside the catch block
#include <pthread.h>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <unistd.h>
struct E { long v; };
static volatile int stop;
static void *run(void *arg)
{
    long id = (long)arg, bad = 0, n = 0;
    for (int i = 0; i < 20000; i++) {
        try {
            throw E{id * 100000 + i};
        } catch (E &e) {
            volatile unsigned long x = 0;
            for (int k = 0; k < 2000; k++) x += k;   // compute inside the catch
            if (std::uncaught_exceptions() != 0) bad++;
            try { throw; } catch (E &e2) { if (e2.v != id * 100000 + i) bad++; }
            if (e.v != id * 100000 + i) bad++;
            n++;
        }
    }
    return (void *)(bad * 1000000 + n);
}
int main()
{
    alarm(30);
    pthread_t t[4];
    for (long i = 0; i < 4; i++) pthread_create(&t[i], nullptr, run, (void *)i);
    for (int i = 0; i < 4; i++) { void *r; pthread_join(t[i], &r); long v = (long)r; printf("thread %d: caught %ld, bad %ld\n", i, v % 1000000, v / 1000000); }
    return 0;
}

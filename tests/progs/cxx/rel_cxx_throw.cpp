// rel_cxx_throw: four threads throw and catch in tight loops, rethrowing
// and computing inside the catch blocks, while the monitor looks at them
// (hand-off, runtime/handoff.c) and preemption interrupts them. A walk of a
// thread's stack from a signal handler must never start inside the
// unwinder's own code (libgcc_s): one that did read a register slot at
// address 8 and crashed (SIGSEGV; 2 workers, own TLS: about 1 run in 5).
// Each catch checks what it caught and the unwinder's count of exceptions
// in flight. Deterministic output; alarm bounds a hang.
#include <pthread.h>
#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <exception>

struct E { long v; };

static void *run(void *arg)
{
    long id = (long)arg, bad = 0, n = 0;
    for (int i = 0; i < 40000; i++) {
        long want = id * 100000 + i;
        try {
            throw E{want};
        } catch (E &e) {
            volatile unsigned long x = 0;
            for (int k = 0; k < 1000; k++) x += k; // computing inside the catch
            if (std::uncaught_exceptions() != 0) bad++;
            try {
                throw;
            } catch (E &again) {
                if (again.v != want) bad++;
            }
            if (e.v != want) bad++;
            n++;
        }
    }
    return (void *)(bad * 1000000 + n);
}

int main()
{
    const char *slow = getenv("GPATCH_TEST_SLOW");
    alarm(30 * (slow && atoi(slow) > 1 ? atoi(slow) : 1));
    pthread_t t[4];
    for (long i = 0; i < 4; i++) pthread_create(&t[i], nullptr, run, (void *)i);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        long v = (long)r;
        printf("thread %d: caught %ld, wrong %ld\n", i, v % 1000000, v / 1000000);
    }
    return 0;
}

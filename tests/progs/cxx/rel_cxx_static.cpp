// rel_cxx_static: six threads reach two function-local statics whose
// constructors compute for a while (no call): one thread constructs each,
// the others wait in libstdc++'s guard (__cxa_guard_acquire) and then see
// the same value. The guard believes the process single-threaded while
// __libc_single_threaded reads 1, and then takes a guard found busy for a
// recursive initialization (recursive_init_error, abort): under gpatch
// with one worker and shared TLS nothing set it to 0, and a preempted
// constructor left its guard busy for another thread to find. Prints the
// flag, too, as glibc's pthread_create leaves it. Deterministic output;
// alarm bounds a hang.
#include <pthread.h>
#include <sys/single_threaded.h>
#include <unistd.h>
#include <cstdio>
#include <cstdlib>

struct Slow {
    unsigned long v;
    Slow()
    {
        volatile unsigned long x = 1;
        for (unsigned long i = 0; i < 200000000UL; i++) x = x * 3 + 1;
        v = x & 0xffff;
    }
};

static unsigned long get(int k)
{
    static Slow one; // constructed by whoever comes first, the rest wait
    if (k == 1) return one.v;
    static Slow two;
    return two.v;
}

static void *run(void *a) { return (void *)get(1 + (int)((long)a % 2)); }

int main()
{
    const char *slow = getenv("GPATCH_TEST_SLOW");
    alarm(60 * (slow && atoi(slow) > 1 ? atoi(slow) : 1));
    pthread_t t[6];
    for (long i = 0; i < 6; i++) pthread_create(&t[i], nullptr, run, (void *)i);
    printf("__libc_single_threaded after pthread_create: %d\n", (int)__libc_single_threaded);
    for (int i = 0; i < 6; i++) {
        void *r;
        pthread_join(t[i], &r);
        printf("thread %d: %lx\n", i, (unsigned long)r);
    }
    return 0;
}

/* tls_dlopen — thread-local data of libraries dlopen'd while threads exist.
 * Threads start and block; then one of them dlopens two builds of the same
 * library (build/progs/libtls_gd.so: global-dynamic TLS, libtls_ie.so:
 * initial-exec, static TLS) and every thread, the old ones and new ones
 * started after the dlopen, finds the TLS image in its own copy, writes its
 * identity, and checks it after blocking calls (sleep, pipe, mutex) while the
 * others do the same. The program keeps a __thread variable of its own as
 * well. With the argument "bare" the libraries are named without a directory
 * (the caller's search path applies: run it with LD_LIBRARY_PATH). Stock is
 * the specification. */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OLD 16
#define NEW 8
#define N (OLD + NEW)
#define ROUNDS 10

struct mod {
    const char *file;
    int (*fresh)(void);
    void (*set)(int);
    int (*check)(int);
    long (*count)(void);
    void *(*addr)(void);
    void *addrs[N];
    int not_fresh, lost, miscounted;
};
static struct mod mods[2] = {{"libtls_gd.so"}, {"libtls_ie.so"}};

static __thread int my_id = -1;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int loaded, started, lost_own;
static int pipes[N][2];
static char dir[PATH_MAX];
static int bare; /* argv[1] "bare": dlopen by file name only */

static void load(void)
{
    for (int m = 0; m < 2; m++) {
        char path[PATH_MAX + 32];
        if (bare) /* found along LD_LIBRARY_PATH, as a program names its plugins */
            snprintf(path, sizeof path, "%s", mods[m].file);
        else
            snprintf(path, sizeof path, "%s/%s", dir, mods[m].file);
        void *h = dlopen(path, RTLD_NOW);
        if (!h) {
            printf("dlopen %s: %s\n", mods[m].file, dlerror());
            exit(1);
        }
        mods[m].fresh = (int (*)(void))dlsym(h, "mod_fresh");
        mods[m].set = (void (*)(int))dlsym(h, "mod_set");
        mods[m].check = (int (*)(int))dlsym(h, "mod_check");
        mods[m].count = (long (*)(void))dlsym(h, "mod_count");
        mods[m].addr = (void *(*)(void))dlsym(h, "mod_addr");
    }
}

static void use(int id)
{
    for (int m = 0; m < 2; m++) {
        struct mod *d = &mods[m];
        if (!d->fresh()) __atomic_add_fetch(&d->not_fresh, 1, __ATOMIC_RELAXED);
        d->set(id);
        d->addrs[id] = d->addr();
    }
    for (int r = 0; r < ROUNDS; r++) {
        for (int m = 0; m < 2; m++)
            if (mods[m].count() != r + 1) __atomic_add_fetch(&mods[m].miscounted, 1, __ATOMIC_RELAXED);
        usleep(200 + (id * 53 + r * 17) % 700);
        char c = 'x';
        if (write(pipes[(id + 1) % N][1], &c, 1) != 1 || read(pipes[id][0], &c, 1) != 1) exit(2);
        pthread_mutex_lock(&mu);
        usleep(50);
        pthread_mutex_unlock(&mu);
        for (int m = 0; m < 2; m++)
            if (!mods[m].check(id)) __atomic_add_fetch(&mods[m].lost, 1, __ATOMIC_RELAXED);
        if (my_id != id) __atomic_add_fetch(&lost_own, 1, __ATOMIC_RELAXED);
    }
}

static void *run(void *arg)
{
    int id = (int)(long)arg;
    my_id = id;
    pthread_mutex_lock(&mu);
    started++;
    pthread_cond_broadcast(&cv);
    if (id == 0) { /* the first thread loads, once all the old ones wait */
        while (started < OLD) pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
        load();
        pthread_mutex_lock(&mu);
        loaded = 1;
        pthread_cond_broadcast(&cv);
    }
    while (!loaded) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    use(id);
    return NULL;
}

int main(int argc, char **argv)
{
    bare = argc > 1 && strcmp(argv[1], "bare") == 0;
    if (!realpath("/proc/self/exe", dir)) return 1;
    *strrchr(dir, '/') = 0;
    for (int i = 0; i < N; i++)
        if (pipe(pipes[i])) return 1;
    for (int i = 0; i < N; i++)
        if (write(pipes[i][1], "y", 1) != 1) return 1;
    pthread_t t[N];
    for (int i = 0; i < OLD; i++) pthread_create(&t[i], NULL, run, (void *)(long)i);
    pthread_mutex_lock(&mu);
    while (!loaded) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    for (int i = OLD; i < N; i++) pthread_create(&t[i], NULL, run, (void *)(long)i);
    for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
    for (int m = 0; m < 2; m++) {
        struct mod *d = &mods[m];
        int distinct = 1;
        for (int i = 0; i < N; i++)
            for (int j = 0; j < i; j++)
                if (d->addrs[i] == d->addrs[j]) distinct = 0;
        printf("%s: threads that did not start from the TLS image: %d\n", d->file, d->not_fresh);
        printf("%s: values lost across blocking calls: %d, counts wrong: %d\n", d->file, d->lost, d->miscounted);
        printf("%s: every thread's copy at its own address: %s\n", d->file, distinct ? "yes" : "no");
    }
    printf("the program's own __thread value lost: %d\n", lost_own);
    return 0;
}

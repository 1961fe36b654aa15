/* strerror_main — strerror's and strsignal's text for a number they do
 * not know lives in a per-thread buffer, valid until the same thread's
 * next call: main's, taken before any thread exists, stays its own while
 * other threads make theirs. (With GPATCH_TLS=shared green threads share
 * their worker's thread-local state, these buffers with it: not run so.)
 * Stock is the specification. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "bound.h"

static void *other(void *arg)
{
    (void)arg;
    strerror(100001);
    strsignal(1001);
    return NULL;
}

int main(void)
{
    alarm(bound_s(20));
    const char *e = strerror(100002), *s = strsignal(1002);
    char ecopy[64], scopy[64];
    snprintf(ecopy, sizeof ecopy, "%s", e);
    snprintf(scopy, sizeof scopy, "%s", s);
    for (int i = 0; i < 8; i++) {
        pthread_t t;
        pthread_create(&t, NULL, other, NULL);
        pthread_join(t, NULL);
    }
    printf("main's strerror text is still its own: %s\n", strcmp(e, ecopy) == 0 ? "yes" : "no");
    printf("main's strsignal text is still its own: %s\n", strcmp(s, scopy) == 0 ? "yes" : "no");
    return 0;
}

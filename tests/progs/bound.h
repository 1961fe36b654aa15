/* bound.h — a subject's own deadline (the alarm that turns a hang into a
 * failure), stretched N times by GPATCH_TEST_SLOW=N: the emulated machine of
 * tests/vm runs programs several times slower than a real one. Unset, the
 * deadline is as written. */
#ifndef BOUND_H
#define BOUND_H
#include <stdlib.h>

static inline unsigned bound_s(unsigned s)
{
    const char *e = getenv("GPATCH_TEST_SLOW");
    int n = e ? atoi(e) : 1;
    return n >= 1 && n <= 100 ? s * (unsigned)n : s;
}
#endif

/* slow.c — GPATCH_TEST_SLOW=N stretches every test's Criterion timeout N
 * times, for the emulated machine of tests/vm, where programs run several
 * times slower than here (harness.h stretches the subjects' deadlines by as
 * much). Before any test runs, each test's own .timeout (and each suite's)
 * is multiplied; those without one take the runner's --timeout, which the
 * caller scales itself. Unset, nothing changes. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <criterion/internal/ordered-set.h>

#include "harness.h"

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    double slow = h_slow();
    if (slow == 1) return;
    struct criterion_suite_set *ss;
    FOREACH_SET(ss, set->suites) {
        if (ss->suite.data && ss->suite.data->timeout > 0) ss->suite.data->timeout *= slow;
        struct criterion_test *t;
        FOREACH_SET(t, ss->tests) {
            if (t->data && t->data->timeout > 0) t->data->timeout *= slow;
        }
    }
}

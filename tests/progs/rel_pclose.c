/* rel_pclose: pclose waits for popen's child inside glibc, with a waitpid
 * of its own that no preload sees. A ticker thread counts 5 ms sleeps while
 * another pcloses a child that exits after 300 ms: stock, the ticker goes
 * on. Also pclose's status for exit codes and a killed child, and a "w"
 * stream whose data the child reads after pclose flushed it. Output is
 * deterministic; alarm bounds a hang. */
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bound.h"
#include "ticker.h"


static void *closer(void *arg)
{
    (void)arg;
    FILE *p = popen("exec sleep 0.3", "r");
    int st = pclose(p);
    printf("pclose of a child that sleeps 300 ms: exited %d, code %d\n", WIFEXITED(st), WEXITSTATUS(st));
    return NULL;
}

int main(void)
{
    alarm(bound_s(20));
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_t tk, cl;
    pthread_create(&tk, NULL, ticker, NULL);
    usleep(20000);
    long before = ticks;
    pthread_create(&cl, NULL, closer, NULL);
    pthread_join(cl, NULL);
    long during = ticks - before;
    ticker_done = 1;
    pthread_join(tk, NULL);
    /* 300 ms of 5 ms ticks: stock counts up to 60 (fewer on a loaded machine); a
     * blocked worker, 0 or 1 */
    printf("the ticker went on during pclose: %s\n", during >= 4 ? "yes" : "no");

    int st = pclose(popen("exit 7", "r"));
    printf("pclose of exit 7: exited %d, code %d\n", WIFEXITED(st), WEXITSTATUS(st));
    st = pclose(popen("kill -TERM $$", "r"));
    printf("pclose of a killed child: signalled %d, signal %d\n", WIFSIGNALED(st), WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    FILE *w = popen("wc -c", "w");
    fputs("twelve bytes", w);
    st = pclose(w); /* flushes, then waits: wc prints 12 */
    printf("pclose of a writer: code %d\n", WEXITSTATUS(st));
    return 0;
}

/* rel_stdio_pty: stdin is a terminal (the slave of a pty made with openpty)
 * that another thread types into late, one line every 100 ms, as a server's
 * console thread reads its operator. The reads go through stdio (fgets,
 * getchar, scanf, getline on stdin): glibc refills the stream with its own
 * read, which no preload sees; a read that waited on the worker would stop
 * the typist (deadlock when both share it) and a ticker thread. Stock: the
 * ticker goes on, the reads get what was typed, in canonical mode (a line
 * at a time). Then the typist sends the terminal's EOF (^D): EOF and its
 * sticky flag. Output is deterministic; alarm bounds a hang. */
#define _GNU_SOURCE
#include <pthread.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include "bound.h"
#include "ticker.h"

static int master;

static void type(const char *s)
{
    usleep(100000); /* the reader is waiting by now */
    if (write(master, s, strlen(s)) < 0) perror("write");
}

static void *typist(void *arg)
{
    (void)arg;
    type("status\n");
    type("x\n");
    type("42 seven\n");
    type("a longer line for getline\n");
    type("\x04"); /* VEOF at the start of a line: read returns 0 */
    return NULL;
}

int main(void)
{
    alarm(bound_s(20));
    setvbuf(stdout, NULL, _IOLBF, 0);
    int slave;
    if (openpty(&master, &slave, NULL, NULL, NULL) != 0) {
        perror("openpty");
        return 1;
    }
    struct termios t;
    tcgetattr(slave, &t);
    t.c_lflag &= ~(tcflag_t)ECHO; /* nothing comes back on the master */
    tcsetattr(slave, TCSANOW, &t);
    if (dup2(slave, 0) != 0) return 1;
    close(slave);
    pthread_t tk, ty;
    pthread_create(&tk, NULL, ticker, NULL);
    usleep(20000);
    pthread_create(&ty, NULL, typist, NULL);
    long before = ticks;
    char line[64];
    printf("fgets: %s", fgets(line, sizeof line, stdin) ? line : "NULL\n");
    int c = getchar();
    printf("getchar: '%c', then '%s'\n", c, getchar() == '\n' ? "\\n" : "?");
    int n = 0;
    char word[16] = "";
    int got = scanf("%d %15s", &n, word);
    printf("scanf: %d -> %d '%s'\n", got, n, word);
    getchar(); /* the newline after it */
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len = getline(&buf, &cap, stdin);
    printf("getline: %zd '%.*s'\n", len, len > 0 ? (int)len - 1 : 0, buf ? buf : "");
    free(buf);
    c = getchar();
    printf("at ^D: %s, feof %d, ferror %d\n", c == EOF ? "EOF" : "a character", feof(stdin) != 0, ferror(stdin) != 0);
    long during = ticks - before;
    ticker_done = 1;
    pthread_join(tk, NULL);
    pthread_join(ty, NULL);
    printf("the ticker went on while stdin waited: %s\n", during >= 20 ? "yes" : "no");
    return 0;
}

/* rel_stdio_pipe: stdio reads of a pipe whose writer is another thread that
 * writes late (nine pieces, 100 ms apart). glibc refills a stream with its own read: a read that waited
 * on the worker would stop the writer (deadlock when both share it) and a
 * ticker thread. Stock: the ticker goes on, the reads get what was written.
 * fgets (whole lines, a line longer than the buffer), getc, fread across
 * several writes, getline, fscanf, getdelim, EOF and its sticky flag; a regular file
 * read the same way. Output is deterministic; alarm bounds a hang. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bound.h"
#include "ticker.h"

static int pfd[2];


static void put(const char *s)
{
    usleep(100000); /* the reader is waiting by now */
    if (write(pfd[1], s, strlen(s)) < 0) perror("write");
}

static void *writer(void *arg)
{
    (void)arg;
    put("first line\n");
    put("a line longer than sixteen bytes\n");
    put("c");
    put("0123456789");
    put("ABCDEFGHIJ");
    put("getline's line\n");
    put("12 ");
    put("34");
    put("field one;field two;");
    close(pfd[1]);
    return NULL;
}

int main(void)
{
    alarm(bound_s(20));
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_t tk, wr;
    pthread_create(&tk, NULL, ticker, NULL);
    if (pipe(pfd) != 0) return 1;
    FILE *f = fdopen(pfd[0], "r");
    long before = ticks;
    pthread_create(&wr, NULL, writer, NULL);

    char buf[64], small[16];
    if (fgets(buf, sizeof buf, f)) printf("fgets: %s", buf);
    if (fgets(small, sizeof small, f)) printf("fgets 16: [%s]\n", small);
    if (fgets(buf, sizeof buf, f)) printf("fgets rest: %s", buf);
    printf("getc: %c\n", getc(f));
    char twenty[21] = {0};
    size_t nr = fread(twenty, 1, 20, f);
    printf("fread 20 of 1: %zu [%s]\n", nr, twenty);
    char *line = NULL;
    size_t cap = 0;
    ssize_t got = getline(&line, &cap, f);
    printf("getline: %zd %s", got, line);
    int a = 0, b = 0;
    int k = fscanf(f, "%d %d", &a, &b);
    printf("fscanf two numbers across writes: %d: %d %d\n", k, a, b);
    got = getdelim(&line, &cap, ';', f);
    printf("getdelim ';': %zd [%s]\n", got, line);
    got = getdelim(&line, &cap, ';', f);
    printf("getdelim ';': %zd [%s]\n", got, line);
    got = getdelim(&line, &cap, ';', f);
    printf("getdelim at the end: %zd, feof %d\n", got, feof(f));
    char *r = fgets(buf, sizeof buf, f);
    printf("fgets after the end: %s, feof %d\n", r ? "a line" : "NULL", feof(f));
    printf("getc after the end: %d\n", getc(f));
    pthread_join(wr, NULL);
    long during = ticks - before;
    /* nine writes 100 ms apart: stock ticks up to 180 times (far fewer on a
     * loaded machine); a worker blocked in each read lets it tick only
     * between two reads, at most about 9 */
    printf("the ticker went on while the reads waited: %s\n", during >= 20 ? "yes" : "no");
    fclose(f);

    /* a regular file, the same calls */
    char path[] = "/tmp/rel_stdio_pipe.XXXXXX";
    int fd = mkstemp(path);
    FILE *g = fdopen(fd, "w+");
    fputs("one\ntwo\nthree", g);
    rewind(g);
    if (fgets(buf, sizeof buf, g)) printf("file fgets: %s", buf);
    printf("file getc: %c\n", getc(g));
    printf("file fread: %zu\n", fread(twenty, 1, 20, g));
    fclose(g);
    unlink(path);

    /* bad inputs glibc answers at once */
    errno = 0;
    printf("getline NULL: %zd errno %d\n", getline(NULL, &cap, stdin), errno);
    printf("fread size 0: %zu\n", fread(twenty, 0, 5, stdin));
    free(line);
    ticker_done = 1;
    pthread_join(tk, NULL);
    return 0;
}

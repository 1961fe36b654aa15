#define _GNU_SOURCE
/* uv_http — the same keep-alive server written directly on libuv: one
 * thread, callbacks. The peer gpatch is measured against. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!";
static uv_loop_t *loop;

struct client { uv_tcp_t tcp; char buf[8192]; size_t have; };

static void on_close(uv_handle_t *h) { free(h->data); }

static void alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    struct client *c = h->data;
    (void)sz;
    *b = uv_buf_init(c->buf + c->have, (unsigned)(sizeof c->buf - c->have));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct client *c = s->data;
    (void)b;
    if (n < 0) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    c->have += (size_t)n;
    char *end;
    while ((end = memmem(c->buf, c->have, "\r\n\r\n", 4))) {
        size_t used = (size_t)(end + 4 - c->buf);
        uv_buf_t r = uv_buf_init((char *)reply, sizeof reply - 1);
        if (uv_try_write(s, &r, 1) != (int)(sizeof reply - 1)) { /* kernel buffer full: not in this test */
            uv_close((uv_handle_t *)s, on_close);
            return;
        }
        memmove(c->buf, c->buf + used, c->have - used);
        c->have -= used;
    }
    if (c->have == sizeof c->buf) uv_close((uv_handle_t *)s, on_close);
}

static void on_conn(uv_stream_t *srv, int st)
{
    if (st < 0) return;
    struct client *c = calloc(1, sizeof *c);
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) == 0) {
        uv_tcp_nodelay(&c->tcp, 1);
        uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
    } else {
        uv_close((uv_handle_t *)&c->tcp, on_close);
    }
}

int main(int argc, char **argv)
{
    loop = uv_default_loop();
    uv_tcp_t srv;
    uv_tcp_init(loop, &srv);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", argc > 1 ? atoi(argv[1]) : 0, &a);
    if (uv_tcp_bind(&srv, (struct sockaddr *)&a, 0) || uv_listen((uv_stream_t *)&srv, 16384, on_conn)) return 1;
    int al = sizeof a;
    uv_tcp_getsockname(&srv, (struct sockaddr *)&a, &al);
    printf("port %d\n", ntohs(a.sin_port));
    fflush(stdout);
    return uv_run(loop, UV_RUN_DEFAULT);
}

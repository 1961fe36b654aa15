#!/usr/bin/python3
"""py_keepalive — bench/progs/http_keepalive.c in plain Python: one thread per
connection (socket + threading), HTTP/1.1 keep-alive, the same answer to the
same requests. Run by bench/run.py stock, under gpatch (LD_PRELOAD) and under
gevent.

Usage: py_keepalive.py PORT [gevent]   (PORT 0: any; prints "port N")
With "gevent", gevent's monkey.patch_all() runs before socket and threading
are imported, as gevent asks, so every thread below is a greenlet.
"""
import sys

if sys.argv[2:] == ["gevent"]:
    from gevent import monkey
    monkey.patch_all()

import errno  # noqa: E402  (after the patch, on purpose)
import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!"
BUF = 8192


def conn(c):
    have = b""
    try:
        while True:
            d = c.recv(BUF - len(have))
            if not d:
                break
            have += d
            # answer every complete request in the buffer (wrk does not pipeline)
            while True:
                end = have.find(b"\r\n\r\n")
                if end < 0:
                    break
                if c.send(REPLY) != len(REPLY):
                    return
                have = have[end + 4:]
            if len(have) == BUF:  # a request too large: drop the client
                break
    except OSError:
        pass
    finally:
        c.close()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16384)
    print("port", ls.getsockname()[1], flush=True)
    while True:
        try:
            c, _ = ls.accept()
        except OSError as e:
            if e.errno in (errno.EMFILE, errno.ENFILE):
                time.sleep(0.001)
            continue
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            threading.Thread(target=conn, args=(c,), daemon=True).start()
        except RuntimeError:  # cannot start a thread: drop the client, as the C server does
            c.close()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass

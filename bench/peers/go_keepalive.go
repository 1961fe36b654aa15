// go_keepalive — bench/progs/http_keepalive.c in Go: one goroutine per
// connection on package net, HTTP/1.1 keep-alive, the same answer to the same
// requests. Built by `make bench-build` with Debian's go, standard library
// only. Usage: go_keepalive PORT (0: any; prints "port N"). bench/run.py runs
// it with GOMAXPROCS=1 against gpatch's one worker.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

var reply = []byte("HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!")

func conn(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 8192)
	have := 0
	for {
		n, err := c.Read(buf[have:])
		if n <= 0 || err != nil {
			return
		}
		have += n
		// answer every complete request in the buffer (wrk does not pipeline)
		for {
			end := bytes.Index(buf[:have], []byte("\r\n\r\n"))
			if end < 0 {
				break
			}
			if w, err := c.Write(reply); err != nil || w != len(reply) {
				return
			}
			used := end + 4
			copy(buf, buf[used:have])
			have -= used
		}
		if have == len(buf) { // a request too large: drop the client
			return
		}
	}
}

func main() {
	port := 0
	if len(os.Args) > 1 {
		port, _ = strconv.Atoi(os.Args[1])
	}
	// net sets SO_REUSEADDR on listeners, TCP_NODELAY on accepted
	// connections, and the backlog from net.core.somaxconn.
	ls, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	fmt.Printf("port %d\n", ls.Addr().(*net.TCPAddr).Port)
	for {
		c, err := ls.Accept()
		if err != nil {
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				time.Sleep(time.Millisecond)
			}
			continue
		}
		go conn(c)
	}
}

package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// benchClient is the load generator's HTTP/1.1 client, made to take as little of the CPU it
// shares with the server under test as it can, as wrk does: keep-alive connections used one
// request at a time, each request written from bytes prepared before the clock starts, each
// answer read by net/http's own parser on the calling goroutine. net/http's Transport spends
// two more goroutines per connection and several hand-offs per request; on two cores that is
// CPU and run-queue room taken from the server, which WeChat's own servers would not take.
type benchClient struct {
	addr string
	idle chan *benchConn
}

type benchConn struct {
	c net.Conn
	r *bufio.Reader
}

func newBenchClient(addr string, maxIdle int) *benchClient {
	return &benchClient{addr: addr, idle: make(chan *benchConn, maxIdle)}
}

// do sends one prepared request and returns the answer's status. A connection that fails
// or that the server asks to close is dropped; the next request dials a new one.
func (c *benchClient) do(req []byte) (int, error) {
	var bc *benchConn
	select {
	case bc = <-c.idle:
	default:
		conn, err := net.Dial("tcp", c.addr)
		if err != nil {
			return 0, err
		}
		bc = &benchConn{c: conn, r: bufio.NewReaderSize(conn, 4<<10)}
	}
	if _, err := bc.c.Write(req); err != nil {
		bc.c.Close()
		return 0, err
	}
	resp, err := http.ReadResponse(bc.r, nil)
	if err != nil {
		bc.c.Close()
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.Close {
		bc.c.Close()
		return resp.StatusCode, err
	}
	select {
	case c.idle <- bc:
	default:
		bc.c.Close()
	}
	return resp.StatusCode, nil
}

// close closes the idle connections.
func (c *benchClient) close() {
	for {
		select {
		case bc := <-c.idle:
			bc.c.Close()
		default:
			return
		}
	}
}

// benchRequest is an HTTP/1.1 POST of body to target (path and query) on host, as bytes
// ready to write; header lines are "Name: value".
func benchRequest(host, target, contentType, body string, header ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %s\r\n", target, host, contentType, strconv.Itoa(len(body)))
	for _, h := range header {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return []byte(b.String())
}

package bufconn

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Everything written reaches the peer in order, including what is still queued at Close, and
// reads see what the peer wrote.
func TestConnWritesInOrderAndFlushesAtClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		peer, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer peer.Close()
		peer.Write([]byte("hello"))
		b, _ := io.ReadAll(peer)
		got <- b
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	c := New(raw)
	var want bytes.Buffer
	for i := range 20000 {
		chunk := []byte(strconv.Itoa(i) + ",")
		want.Write(chunk)
		n, err := c.Write(chunk)
		require.NoError(t, err)
		require.Equal(t, len(chunk), n)
	}
	hello := make([]byte, 5)
	_, err = io.ReadFull(c, hello)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(hello))
	require.NoError(t, c.Close())
	assert.Equal(t, want.String(), string(<-got))
	_, err = c.Write([]byte("late"))
	assert.Error(t, err)
}

// A peer that stops reading holds neither a writer beyond the queue's bound for ever nor
// Close: Close gives the last flush closeFlushTimeout, and a Write waiting meanwhile is
// refused.
func TestCloseWithAPeerThatStoppedReading(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		peer, err := ln.Accept()
		if err == nil {
			accepted <- peer // and never read from
		}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	peer := <-accepted
	defer peer.Close()
	c := New(raw)

	writerDone := make(chan error, 1)
	go func() {
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for {
			if _, err := c.Write(chunk); err != nil {
				writerDone <- err
				return
			}
		}
	}()
	// Fill the kernel's buffers and the queue: the writer waits.
	select {
	case err := <-writerDone:
		t.Fatalf("the writer stopped before Close: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	select {
	case <-closed:
	case <-time.After(closeFlushTimeout + 5*time.Second):
		t.Fatal("Close hung on a peer that does not read")
	}
	select {
	case err := <-writerDone:
		assert.Error(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting Write did not return after Close")
	}
}

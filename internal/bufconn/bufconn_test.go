package bufconn

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"testing"

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

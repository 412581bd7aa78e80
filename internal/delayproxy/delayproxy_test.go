package delayproxy

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echoServer answers every line with the same line.
func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func TestRoundTripTakesTwiceTheDelay(t *testing.T) {
	const oneWay = 20 * time.Millisecond
	p, err := Start("127.0.0.1:0", echoServer(t), oneWay)
	require.NoError(t, err)
	defer p.Close()

	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	for i := 0; i < 3; i++ {
		start := time.Now()
		_, err = c.Write([]byte("ping\n"))
		require.NoError(t, err)
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, "ping\n", line)
		assert.GreaterOrEqual(t, time.Since(start), 2*oneWay, "a round trip holds both directions")
	}
	n, _ := p.Stats()
	assert.Equal(t, int64(6), n, "three chunks each way")
}

func TestPipelinedBytesKeepOrderAndOverlap(t *testing.T) {
	// Bytes in flight do not queue behind one another's delay: 50 writes
	// 1 ms apart through a 30 ms link take about 50 + 60 ms, not 50 x 60.
	const oneWay = 30 * time.Millisecond
	p, err := Start("127.0.0.1:0", echoServer(t), oneWay)
	require.NoError(t, err)
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()

	start := time.Now()
	go func() {
		for i := 0; i < 50; i++ {
			_, _ = c.Write([]byte{byte(i)})
			time.Sleep(time.Millisecond)
		}
	}()
	got := make([]byte, 50)
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	for i, b := range got {
		require.Equal(t, byte(i), b, "order")
	}
	assert.Less(t, time.Since(start), 2*time.Second, "the delays overlap")
}

func TestCloseCutsConnections(t *testing.T) {
	p, err := Start("127.0.0.1:0", echoServer(t), time.Millisecond)
	require.NoError(t, err)
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("x"))
	require.NoError(t, err)
	b := make([]byte, 1)
	_, err = io.ReadFull(c, b)
	require.NoError(t, err)

	require.NoError(t, p.Close())
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(b)
	assert.Error(t, err, "the client sees the connection end")
}

func TestRefusesANegativeDelay(t *testing.T) {
	_, err := Start("127.0.0.1:0", "127.0.0.1:1", -time.Millisecond)
	assert.Error(t, err)
}

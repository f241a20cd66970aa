//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// loadResult is what one timed window of HTTP load measured.
type loadResult struct {
	requests  uint64        // completed in the window
	failures  uint64        // non-200 answers, GraphQL errors, broken connections
	bytes     uint64        // response body bytes, for checking like answers like
	window    time.Duration // the measured time
	latencies *histogram
	usage     usage // CPU time in the window
	// transactions is how many Postgres transactions ran meanwhile (each
	// statement outside a transaction is one).
	transactions int64
	// mallocs is how many heap objects the server allocated from the start
	// of the window until the load stopped (up to one request per client
	// after the window).
	mallocs   float64
	firstFail string
}

// allocsPerRequest returns the server's heap allocations per completed
// request.
func (r loadResult) allocsPerRequest() float64 { return r.mallocs / float64(max(r.requests, 1)) }

// throughput returns the completed requests per second.
func (r loadResult) throughput() float64 {
	if r.window <= 0 {
		return 0
	}
	return float64(r.requests) / r.window.Seconds()
}

// cpuPerRequest returns the server's CPU time per completed request.
func (r loadResult) cpuPerRequest() time.Duration {
	return r.usage.servers / time.Duration(max(r.requests, 1))
}

// merge adds another window of the same target.
func (r *loadResult) merge(o loadResult) {
	r.requests += o.requests
	r.failures += o.failures
	r.bytes += o.bytes
	r.window += o.window
	r.mallocs += o.mallocs
	r.usage.servers += o.usage.servers
	r.usage.harness += o.usage.harness
	r.usage.postgres += o.usage.postgres
	r.transactions += o.transactions
	r.usage.machineBusy = (r.usage.machineBusy*float64(r.window-o.window) + o.usage.machineBusy*float64(o.window)) / float64(max(r.window, 1))
	if r.latencies == nil {
		r.latencies = &histogram{}
	}
	r.latencies.merge(o.latencies)
	if r.firstFail == "" {
		r.firstFail = o.firstFail
	}
}

// httpLoad drives a server with clients concurrent keep-alive connections,
// each sending the same POST back to back. It is a minimal HTTP/1.1 client,
// so that on a small machine the load generator leaves the CPU to the
// server under test; it reads Content-Length and chunked bodies.
type httpLoad struct {
	addr    string // host:port
	path    string
	body    []byte
	token   string // API token sent as "Authorization: Bearer"; "" for none
	clients int
	server  *child // for its CPU time
	// backends lists the Postgres backends whose CPU time to count.
	backends func() []int
	// onMeasure, when set, is called as the measured window starts.
	onMeasure func()
}

// run warms up for warmup, then measures for window.
func (l *httpLoad) run(ctx context.Context, warmup, window time.Duration) (loadResult, error) {
	auth := ""
	if l.token != "" {
		auth = "Authorization: Bearer " + l.token + "\r\n"
	}
	req := fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s",
		l.path, l.addr, auth, len(l.body), l.body)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		recording atomic.Bool
		wg        sync.WaitGroup
		mu        sync.Mutex
		total     = loadResult{latencies: &histogram{}}
	)
	for i := range l.clients {
		wg.Go(func() {
			w := &loadWorker{addr: l.addr, local: loopbackSource(i), req: req}
			res := w.loop(ctx, &recording)
			mu.Lock()
			total.requests += res.requests
			total.failures += res.failures
			total.bytes += res.bytes
			total.latencies.merge(res.latencies)
			if total.firstFail == "" {
				total.firstFail = res.firstFail
			}
			mu.Unlock()
		})
	}
	select {
	case <-time.After(warmup):
	case <-ctx.Done():
	}
	if l.onMeasure != nil {
		l.onMeasure()
	}
	meter, errBefore := startUsage(l.backends, l.server)
	start := time.Now()
	recording.Store(true)
	select {
	case <-time.After(window):
	case <-ctx.Done():
	}
	recording.Store(false)
	total.window = time.Since(start)
	u, errAfter := meter.stop()
	cancel()
	wg.Wait()
	total.usage = u
	return total, errors.Join(errBefore, errAfter)
}

// loopbackSource returns the loopback address the i-th client connects
// from. Linux routes all of 127.0.0.0/8 to the loopback interface, so
// spreading clients over many source addresses makes them distinct clients
// to the server's per-client limits (at most 32 connections per address),
// as real viewers are, while every packet still goes to 127.0.0.1.
func loopbackSource(i int) *net.TCPAddr {
	g := i / 32
	return &net.TCPAddr{IP: net.IPv4(127, 1, byte(g/250), byte(g%250+1))}
}

// loadWorker is one keep-alive client.
type loadWorker struct {
	addr  string
	local *net.TCPAddr
	req   []byte
	conn  net.Conn
	br    *bufio.Reader
	body  []byte
}

func (w *loadWorker) loop(ctx context.Context, recording *atomic.Bool) loadResult {
	res := loadResult{latencies: &histogram{}}
	defer func() {
		if w.conn != nil {
			w.conn.Close()
		}
	}()
	for ctx.Err() == nil {
		start := time.Now()
		n, err := w.roundTrip()
		elapsed := time.Since(start)
		if ctx.Err() != nil {
			break
		}
		if !recording.Load() {
			continue
		}
		if err != nil {
			res.failures++
			if res.firstFail == "" {
				res.firstFail = err.Error()
			}
			continue
		}
		res.requests++
		res.bytes += uint64(n)
		res.latencies.record(elapsed)
	}
	return res
}

// roundTrip sends the request and reads the whole answer; it returns the
// body's length. A broken connection is closed, to be reopened next time.
func (w *loadWorker) roundTrip() (int, error) {
	if w.conn == nil {
		d := net.Dialer{LocalAddr: w.local, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", w.addr)
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			return 0, err
		}
		w.conn = c
		if w.br == nil {
			w.br = bufio.NewReaderSize(c, 16<<10)
		} else {
			w.br.Reset(c)
		}
	}
	n, err := w.exchange()
	if err != nil && w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
	return n, err
}

var errGraphQL = errors.New(`answer holds "errors"`)

func (w *loadWorker) exchange() (int, error) {
	// No answer takes this long; a stuck server must not hang the harness.
	if err := w.conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return 0, err
	}
	if _, err := w.conn.Write(w.req); err != nil {
		return 0, err
	}
	line, err := w.br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status := string(line[9:12])
	length, chunked, closeAfter := -1, false, false
	for {
		line, err := w.br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		k, v, _ := bytes.Cut(line, []byte(":"))
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(v)); err != nil {
				return 0, fmt.Errorf("bad Content-Length %q", v)
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		case bytes.EqualFold(k, []byte("Connection")):
			closeAfter = bytes.EqualFold(v, []byte("close"))
		}
	}
	w.body = w.body[:0]
	switch {
	case chunked:
		for {
			line, err := w.br.ReadSlice('\n')
			if err != nil {
				return 0, err
			}
			size, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(line, []byte(";"), 2)[0])), 16, 32)
			if err != nil {
				return 0, fmt.Errorf("bad chunk size %q", line)
			}
			if size == 0 {
				if _, err := w.br.ReadSlice('\n'); err != nil { // the final CRLF (no trailers)
					return 0, err
				}
				break
			}
			w.body = grow(w.body, int(size))
			if _, err := io.ReadFull(w.br, w.body[len(w.body)-int(size):]); err != nil {
				return 0, err
			}
			if _, err := w.br.Discard(2); err != nil {
				return 0, err
			}
		}
	case length >= 0:
		w.body = grow(w.body, length)
		if _, err := io.ReadFull(w.br, w.body); err != nil {
			return 0, err
		}
	default:
		return 0, errors.New("answer without a length")
	}
	if closeAfter {
		w.conn.Close()
		w.conn = nil
	}
	if status != "200" {
		return 0, fmt.Errorf("HTTP %s: %.200s", status, w.body)
	}
	if bytes.Contains(w.body, []byte(`"errors"`)) {
		return 0, fmt.Errorf("%w: %.300s", errGraphQL, w.body)
	}
	return len(w.body), nil
}

// grow extends b by n bytes.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), 2*cap(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

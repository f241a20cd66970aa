package telemetry_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/storybot/storybot/internal/telemetry"
)

// fakeLogstash is a TCP listener that reads JSON lines, as Logstash's tcp
// input with the json_lines codec does.
type fakeLogstash struct {
	t     *testing.T
	ln    net.Listener
	lines chan string

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

// startLogstash listens on addr ("127.0.0.1:0" for any port).
func startLogstash(t *testing.T, addr string) *fakeLogstash {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeLogstash{t: t, ln: ln, lines: make(chan string, 10000)}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns = append(f.conns, conn)
			f.mu.Unlock()
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				sc := bufio.NewScanner(conn)
				sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
				for sc.Scan() {
					f.lines <- sc.Text()
				}
			}()
		}
	}()
	return f
}

func (f *fakeLogstash) addr() string { return f.ln.Addr().String() }

// stop closes the listener and every connection, and waits for its
// goroutines.
func (f *fakeLogstash) stop() {
	_ = f.ln.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		_ = c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// next returns the next line received, decoded.
func (f *fakeLogstash) next() logLine {
	f.t.Helper()
	select {
	case s := <-f.lines:
		lines := decodeLines(f.t, s)
		if len(lines) != 1 {
			f.t.Fatalf("not one JSON line: %q", s)
		}
		return lines[0]
	case <-time.After(15 * time.Second):
		f.t.Fatal("timed out waiting for a line at Logstash")
		return nil
	}
}

// count returns how many lines arrive until none has for a while.
func (f *fakeLogstash) count() int {
	n := 0
	for {
		select {
		case <-f.lines:
			n++
		case <-time.After(300 * time.Millisecond):
			return n
		}
	}
}

// reserveAddr returns a local address on which nothing listens.
func reserveAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func newLogstashLogger(t *testing.T, addr string, queue int) (*slog.Logger, func(context.Context) error, *telemetry.Metrics) {
	t.Helper()
	m := telemetry.NewMetrics(telemetry.MetricsOptions{})
	logger, closeLogs, err := telemetry.NewLogger(telemetry.LogConfig{
		LogstashAddr:       addr,
		LogstashQueueSize:  queue,
		LogstashMaxBackoff: 200 * time.Millisecond,
	}, io.Discard, m)
	if err != nil {
		t.Fatal(err)
	}
	return logger, closeLogs, m
}

func TestLogstashReceivesLines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ls := startLogstash(t, "127.0.0.1:0")
	defer ls.stop()
	logger, closeLogs, m := newLogstashLogger(t, ls.addr(), 0)

	ctx := telemetry.ContextWithTraceID(context.Background(), "ls-trace")
	for i := range 3 {
		logger.InfoContext(ctx, "hello logstash", slog.Int("i", i))
	}
	for i := range 3 {
		l := ls.next()
		if l.str("message") != "hello logstash" || l.str("trace.id") != "ls-trace" || l["i"] != float64(i) {
			t.Errorf("line %d = %v", i, l)
		}
		if l.str("service.name") != "storybot" || l.str("@timestamp") == "" || l.str("log.level") != "info" {
			t.Errorf("line %d lacks the ECS fields: %v", i, l)
		}
	}
	if got := value(t, m.Registry(), "storybot_logstash_connected", nil); got != 1 {
		t.Errorf("storybot_logstash_connected = %v, want 1", got)
	}
	if err := closeLogs(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := value(t, m.Registry(), "storybot_logstash_dropped_lines_total", nil); got != 0 {
		t.Errorf("storybot_logstash_dropped_lines_total = %v, want 0", got)
	}
}

// TestLogstashDownAtStart logs while nothing listens; the lines arrive, in
// order, once Logstash is up.
func TestLogstashDownAtStart(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	addr := reserveAddr(t)
	logger, closeLogs, m := newLogstashLogger(t, addr, 0)

	for i := range 5 {
		logger.Info("queued while down", slog.Int("i", i))
	}
	time.Sleep(500 * time.Millisecond) // several failed attempts
	if got := value(t, m.Registry(), "storybot_logstash_connected", nil); got != 0 {
		t.Errorf("storybot_logstash_connected = %v while down, want 0", got)
	}

	ls := startLogstash(t, addr)
	defer ls.stop()
	for i := range 5 {
		if l := ls.next(); l.str("message") != "queued while down" || l["i"] != float64(i) {
			t.Errorf("line %d = %v", i, l)
		}
	}
	if err := closeLogs(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := value(t, m.Registry(), "storybot_logstash_dropped_lines_total", nil); got != 0 {
		t.Errorf("storybot_logstash_dropped_lines_total = %v, want 0", got)
	}
}

// TestLogstashReconnects stops Logstash after a first line, logs while it is
// down for a while, and starts it again on the same address.
func TestLogstashReconnects(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ls := startLogstash(t, "127.0.0.1:0")
	addr := ls.addr()
	logger, closeLogs, m := newLogstashLogger(t, addr, 0)
	reg := m.Registry()

	logger.Info("before")
	if l := ls.next(); l.str("message") != "before" {
		t.Fatalf("got %v", l)
	}
	ls.stop()
	eventually(t, "the writer to see Logstash gone", func() bool {
		return value(t, reg, "storybot_logstash_connected", nil) == 0
	})

	for i := range 10 {
		logger.Info("while down", slog.Int("i", i))
	}
	time.Sleep(700 * time.Millisecond) // down for a while: several attempts fail

	ls = startLogstash(t, addr)
	defer ls.stop()
	for i := range 10 {
		if l := ls.next(); l.str("message") != "while down" || l["i"] != float64(i) {
			t.Errorf("line %d = %v", i, l)
		}
	}
	if got := value(t, reg, "storybot_logstash_connected", nil); got != 1 {
		t.Errorf("storybot_logstash_connected = %v, want 1", got)
	}
	logger.Info("after")
	if l := ls.next(); l.str("message") != "after" {
		t.Errorf("got %v", l)
	}
	if err := closeLogs(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestLogstashQueueFull logs more lines than the queue holds while Logstash
// is down: the surplus is dropped and counted, the rest arrives.
func TestLogstashQueueFull(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const total = 50
	addr := reserveAddr(t)
	logger, closeLogs, m := newLogstashLogger(t, addr, 4)
	reg := m.Registry()

	for i := range total {
		logger.Info("flood", slog.Int("i", i))
	}
	// The queue keeps 4 lines; the writer may hold a few more in the batch
	// it keeps trying to send.
	dropped := value(t, reg, "storybot_logstash_dropped_lines_total", nil)
	if dropped == 0 {
		t.Fatal("no line dropped")
	}

	ls := startLogstash(t, addr)
	defer ls.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := closeLogs(ctx); err != nil {
		t.Fatal(err)
	}
	received := ls.count()
	if received < 4 || float64(received)+dropped != total {
		t.Errorf("received %d and dropped %v of %d lines", received, dropped, total)
	}
}

// TestLogstashCloseGivesUp closes while Logstash stays down: Close returns
// when its context ends and counts the lost lines.
func TestLogstashCloseGivesUp(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	logger, closeLogs, m := newLogstashLogger(t, reserveAddr(t), 0)
	for range 3 {
		logger.Info("never delivered")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := closeLogs(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "3 log lines not delivered") {
		t.Errorf("close: %v, want 3 lines not delivered and a deadline error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("close took %v", d)
	}
	if got := value(t, m.Registry(), "storybot_logstash_dropped_lines_total", nil); got != 3 {
		t.Errorf("storybot_logstash_dropped_lines_total = %v, want 3", got)
	}
	// Lines after close are dropped and counted, not written.
	logger.Info("after close")
	if got := value(t, m.Registry(), "storybot_logstash_dropped_lines_total", nil); got != 4 {
		t.Errorf("storybot_logstash_dropped_lines_total = %v, want 4", got)
	}
}

// TestLogstashNeverBlocks points the writer at a peer that accepts but never
// reads: logging stays fast, lines are dropped once the queue is full, and
// Close ends at its deadline even though a write is stuck.
func TestLogstashNeverBlocks(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	defer func() {
		_ = ln.Close()
		for c := range accepted {
			_ = c.Close()
		}
	}()

	logger, closeLogs, m := newLogstashLogger(t, ln.Addr().String(), 100)
	payload := strings.Repeat("x", 1024)
	const total = 20000
	start := time.Now()
	for i := range total {
		logger.Info("stuck", slog.String("payload", payload), slog.Int("i", i))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("logging %d lines took %v", total, d)
	}
	if got := value(t, m.Registry(), "storybot_logstash_dropped_lines_total", nil); got == 0 {
		t.Error("no line dropped although the peer never reads")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	if err := closeLogs(ctx); err == nil {
		t.Error("close reported every line delivered to a peer that never reads")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("close took %v", d)
	}
}

// TestLogstashDropsAreCountedOnScrape checks the dropped counter through the
// text exposition, as Prometheus sees it.
func TestLogstashDropsAreCountedOnScrape(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	logger, closeLogs, m := newLogstashLogger(t, reserveAddr(t), 1)
	for range 10 {
		logger.Info("x")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = closeLogs(ctx)
	body := scrape(t, m)
	if !strings.Contains(body, fmt.Sprintf("storybot_logstash_dropped_lines_total %d", 10)) {
		t.Errorf("scrape lacks storybot_logstash_dropped_lines_total 10:\n%s", grepLines(body, "logstash"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

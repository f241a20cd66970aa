package telemetry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the Logstash writer.
const (
	defaultLogstashQueue      = 8192
	defaultLogstashMaxBackoff = 5 * time.Second
	logstashMinBackoff        = 100 * time.Millisecond
	logstashDialTimeout       = 5 * time.Second
	logstashWriteTimeout      = 5 * time.Second
	// logstashMaxBatch is how many bytes of queued lines are sent with one
	// write.
	logstashMaxBatch = 64 << 10
)

// logstashWriter sends log lines to a Logstash tcp input using the
// json_lines codec: each Write must be one JSON document ending in a
// newline, as slog's JSONHandler writes them.
//
// Write never blocks on the network: it puts a copy of the line on a bounded
// queue, or drops it (and counts it) when the queue is full. One goroutine
// sends the queue over a TCP connection, reconnecting with exponential
// backoff; a line that could not be sent is kept and sent again on the next
// connection. Close flushes the queue, bounded by its context.
type logstashWriter struct {
	addr       string
	maxBackoff time.Duration
	dialer     net.Dialer
	metrics    *Metrics // nil when not measured

	mu     sync.RWMutex // guards closed against Write
	closed bool
	queue  chan []byte

	quit      chan struct{}   // closed by Close: flush what is queued, then stop
	ctx       context.Context // cancelled when Close gives up on the flush
	cancel    context.CancelFunc
	done      chan struct{} // closed when run returns
	closeOnce sync.Once
	lost      atomic.Int64 // lines given up on at Close
}

// newLogstashWriter starts a writer sending to addr (host:port). queueSize
// and maxBackoff of zero or less mean the defaults; m may be nil.
func newLogstashWriter(addr string, queueSize int, maxBackoff time.Duration, m *Metrics) *logstashWriter {
	if queueSize <= 0 {
		queueSize = defaultLogstashQueue
	}
	if maxBackoff <= 0 {
		maxBackoff = defaultLogstashMaxBackoff
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &logstashWriter{
		addr:       addr,
		maxBackoff: maxBackoff,
		dialer:     net.Dialer{Timeout: logstashDialTimeout, KeepAlive: 30 * time.Second},
		metrics:    m,
		queue:      make(chan []byte, queueSize),
		quit:       make(chan struct{}),
		ctx:        ctx,
		cancel:     cancel,
		done:       make(chan struct{}),
	}
	go w.run()
	return w
}

// Write queues a copy of p, one log line, without blocking. It drops the
// line when the queue is full or the writer is closed. It never fails, so
// that an unreachable Logstash never disturbs the other log outputs.
func (w *logstashWriter) Write(p []byte) (int, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		w.dropped(1)
		return len(p), nil
	}
	select {
	case w.queue <- bytes.Clone(p):
		w.queued()
	default:
		w.dropped(1)
	}
	return len(p), nil
}

// Close stops accepting lines, sends what is queued and closes the
// connection. When ctx ends first, the lines still queued are dropped and
// counted, and the error says how many. Close may be called more than once.
func (w *logstashWriter) Close(ctx context.Context) error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		close(w.quit)
	})
	select {
	case <-w.done:
	case <-ctx.Done():
		w.cancel()
		<-w.done
	}
	w.cancel()
	if n := w.lost.Load(); n > 0 {
		err := ctx.Err()
		if err == nil {
			err = errors.New("flush interrupted")
		}
		return fmt.Errorf("telemetry: logstash %s: %d log lines not delivered: %w", w.addr, n, err)
	}
	return nil
}

// run owns the connection: it sends queued lines until Close, then flushes.
func (w *logstashWriter) run() {
	defer close(w.done)
	var (
		conn    *logstashConn
		batch   []byte
		lines   int
		backoff = min(logstashMinBackoff, w.maxBackoff)
	)
	defer func() {
		if conn != nil {
			conn.close()
		}
		w.setConnected(false)
	}()

	for {
		if lines == 0 {
			var dead <-chan struct{}
			if conn != nil {
				dead = conn.dead
			}
			select {
			case line := <-w.queue:
				batch, lines = append(batch[:0], line...), 1
			case <-dead:
				// Logstash closed the connection while idle.
				conn.close()
				conn = nil
				w.setConnected(false)
				continue
			case <-w.quit:
				select {
				case line := <-w.queue:
					batch, lines = append(batch[:0], line...), 1
				default:
					// Closed and nothing left to send.
					return
				}
			}
			batch, lines = w.fill(batch, lines)
			w.queued()
		}

		if conn == nil {
			c, err := w.dial()
			if err != nil {
				if !w.sleep(backoff) {
					w.giveUp(lines)
					return
				}
				backoff = min(2*backoff, w.maxBackoff)
				continue
			}
			conn = c
			w.setConnected(true)
		}

		if err := conn.write(batch); err != nil {
			conn.close()
			conn = nil
			w.setConnected(false)
			// Send the same batch again on the next connection, after a
			// pause: a peer that accepts and drops connections at once
			// must not make this loop spin.
			if !w.sleep(backoff) {
				w.giveUp(lines)
				return
			}
			backoff = min(2*backoff, w.maxBackoff)
			continue
		}
		lines = 0
		backoff = min(logstashMinBackoff, w.maxBackoff)
	}
}

// fill appends queued lines to batch, without waiting, up to the batch size.
func (w *logstashWriter) fill(batch []byte, lines int) ([]byte, int) {
	for len(batch) < logstashMaxBatch {
		select {
		case line := <-w.queue:
			batch = append(batch, line...)
			lines++
		default:
			return batch, lines
		}
	}
	return batch, lines
}

// sleep waits for about d (with jitter), and reports false when the writer
// gave up meanwhile.
func (w *logstashWriter) sleep(d time.Duration) bool {
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.ctx.Done():
		return false
	}
}

// giveUp counts the lines in hand and those still queued as lost.
func (w *logstashWriter) giveUp(inHand int) {
	n := inHand
	for {
		select {
		case <-w.queue:
			n++
		default:
			w.lost.Add(int64(n))
			w.dropped(n)
			w.queued()
			return
		}
	}
}

func (w *logstashWriter) dial() (*logstashConn, error) {
	c, err := w.dialer.DialContext(w.ctx, "tcp", w.addr)
	if err != nil {
		return nil, err
	}
	lc := &logstashConn{conn: c, dead: make(chan struct{})}
	// Logstash's tcp input never sends anything: reading only tells when it
	// closes the connection, so that lines are not written into a dead one.
	go func() {
		defer close(lc.dead)
		_, _ = io.Copy(io.Discard, c)
	}()
	// Giving up on the flush interrupts a blocked write.
	lc.stop = context.AfterFunc(w.ctx, func() { _ = c.Close() })
	return lc, nil
}

func (w *logstashWriter) dropped(n int) {
	if w.metrics != nil {
		w.metrics.logstashDropped.Add(float64(n))
	}
}

func (w *logstashWriter) queued() {
	if w.metrics != nil {
		w.metrics.logstashQueueLines.Set(float64(len(w.queue)))
	}
}

func (w *logstashWriter) setConnected(up bool) {
	if w.metrics == nil {
		return
	}
	if up {
		w.metrics.logstashConnected.Set(1)
	} else {
		w.metrics.logstashConnected.Set(0)
	}
}

// logstashConn is one TCP connection to Logstash.
type logstashConn struct {
	conn net.Conn
	dead chan struct{} // closed when the peer closed the connection
	stop func() bool
}

func (c *logstashConn) write(b []byte) error {
	select {
	case <-c.dead:
		return net.ErrClosed
	default:
	}
	if err := c.conn.SetWriteDeadline(time.Now().Add(logstashWriteTimeout)); err != nil {
		return err
	}
	_, err := c.conn.Write(b)
	return err
}

// close closes the connection and waits for its reader to end.
func (c *logstashConn) close() {
	c.stop()
	_ = c.conn.Close()
	<-c.dead
}

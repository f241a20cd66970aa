package broker

import (
	"context"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"
)

// withDSNParam returns dsn, a lib/pq connection string in either URL or
// key=value form, with key set to value.
func withDSNParam(dsn, key, value string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", err
		}
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	// lib/pq keeps the last of repeated keys.
	quoted := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(value)
	return strings.TrimSpace(dsn + " " + key + "='" + quoted + "'"), nil
}

// listenerDialer dials the listening connection and remembers the latest one
// it made. The listener only notices a dead connection when a read or write
// on it fails, which on a silent network can take many minutes, and it holds
// its lock while it connects, so Close would wait as long; dropping the
// connection from outside ends both waits.
type listenerDialer struct {
	dialer net.Dialer
	ctx    context.Context // ends at stop
	cancel context.CancelFunc

	mu   sync.Mutex
	conn net.Conn
}

// newListenerDialer returns a dialer that works until stop.
func newListenerDialer() *listenerDialer {
	ctx, cancel := context.WithCancel(context.Background())
	return &listenerDialer{ctx: ctx, cancel: cancel}
}

// Dial implements pq.Dialer.
func (d *listenerDialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// DialTimeout implements pq.Dialer.
func (d *listenerDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, address)
}

// DialContext implements pq.DialerContext. It fails once stop was called.
func (d *listenerDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(d.ctx, cancel)()
	conn, err := d.dialer.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx.Err() != nil {
		_ = conn.Close()
		return nil, net.ErrClosed
	}
	d.conn = conn
	return conn, nil
}

// drop closes the latest connection, which wakes every goroutine blocked on
// it and makes the listener connect again.
func (d *listenerDialer) drop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		_ = d.conn.Close()
	}
}

// stop drops the latest connection and makes every dial, under way or
// later, fail.
func (d *listenerDialer) stop() {
	d.cancel()
	d.drop()
}

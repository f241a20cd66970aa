package broker

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/lib/pq"
	"go.uber.org/goleak"
)

// testLogger writes the broker's logs to t.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// tWriter is an io.Writer over t.Log.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// newTestPostgres starts a broker on dsn and closes it when t ends.
func newTestPostgres(t *testing.T, dsn string, opts ...Option) *Postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	p, err := NewPostgres(ctx, dsn, testLogger(t), opts...)
	if err != nil {
		t.Fatalf("NewPostgres: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// publish publishes evs on b, failing t on error.
func publish(t *testing.T, b Broker, evs ...Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	for _, ev := range evs {
		if err := b.Publish(ctx, ev); err != nil {
			t.Fatalf("Publish at offset %d: %v", ev.Offset, err)
		}
	}
}

func TestPostgresDelivery(t *testing.T) {
	dsn := newTestDB(t)
	a := newTestPostgres(t, dsn)
	b := newTestPostgres(t, dsn)

	story := textEvents("st_a", 50)
	other := textEvents("st_b", 1)
	tests := []struct {
		name string
		sub  *Subscription
		want []Event
	}{
		{"publisher's own subscriber", a.Subscribe("st_a"), story},
		{"other replica's subscriber", b.Subscribe("st_a"), story},
		{"second subscriber on the other replica", b.Subscribe("st_a"), story},
		{"subscriber of another story", b.Subscribe("st_b"), other},
	}
	publish(t, a, story...)
	publish(t, a, other...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, collect(t, tt.sub, len(tt.want))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPostgresLargeDelta(t *testing.T) {
	dsn := newTestDB(t)
	a := newTestPostgres(t, dsn)
	b := newTestPostgres(t, dsn)
	sub := b.Subscribe("st_big")

	delta := repeatTo("Ωmega 日本語の物語 🙂 \"quoted\"\n", 100_000)
	publish(t, a, Event{StoryID: "st_big", Offset: 17, Delta: delta, Status: "COMPLETED", TokenCount: 30_000})

	var (
		pieces []Event
		text   strings.Builder
	)
	for {
		ev := next(t, sub)
		if ev.Resync {
			t.Fatalf("got a Resync after %d pieces", len(pieces))
		}
		pieces = append(pieces, ev)
		text.WriteString(ev.Delta)
		if ev.Status == "COMPLETED" {
			break
		}
	}
	if len(pieces) < 2 {
		t.Fatalf("got %d events, want the delta split", len(pieces))
	}
	offset := 17
	for i, ev := range pieces {
		if ev.Offset != offset {
			t.Errorf("piece %d at offset %d, want %d", i, ev.Offset, offset)
		}
		if !utf8.ValidString(ev.Delta) {
			t.Errorf("piece %d cuts a character", i)
		}
		offset += len(ev.Delta)
	}
	if text.String() != delta {
		t.Errorf("pieces join to %d bytes, want the %d published", text.Len(), len(delta))
	}
	if got := drain(sub); len(got) > 0 {
		t.Errorf("events after the last piece: %+v", got)
	}
}

func TestPostgresFullBuffer(t *testing.T) {
	dsn := newTestDB(t)
	a := newTestPostgres(t, dsn)
	b := newTestPostgres(t, dsn, WithBufferSize(4))
	stuck := b.Subscribe("st_a") // does not read until the end
	marker := b.Subscribe("st_marker")

	evs := textEvents("st_a", 41)
	start := time.Now()
	publish(t, a, evs[:40]...)
	t.Logf("published 40 events in %v", time.Since(start))

	// The listener kept going past the stuck subscriber.
	mark := textEvents("st_marker", 1)[0]
	publish(t, a, mark)
	if diff := cmp.Diff(mark, next(t, marker)); diff != "" {
		t.Fatalf("marker (-want +got):\n%s", diff)
	}

	want := []Event{evs[0], evs[1], evs[2], resync("st_a")}
	if diff := cmp.Diff(want, collect(t, stuck, len(want))); diff != "" {
		t.Errorf("stuck subscriber (-want +got):\n%s", diff)
	}

	// Once read, the stuck subscriber gets new events again.
	publish(t, a, evs[40])
	if diff := cmp.Diff(evs[40], next(t, stuck)); diff != "" {
		t.Errorf("after catching up (-want +got):\n%s", diff)
	}
}

// listenerPIDs returns the backends of the listeners named name on dsn's
// database.
func listenerPIDs(t *testing.T, db *sql.DB, name string) []int {
	t.Helper()
	rows, err := db.Query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`, name)
	if err != nil {
		t.Fatalf("listing listeners: %v", err)
	}
	defer rows.Close()
	var pids []int
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			t.Fatalf("listing listeners: %v", err)
		}
		pids = append(pids, pid)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("listing listeners: %v", err)
	}
	return pids
}

// killListener ends the backend of the one listener named name, other than
// the one at pid before (0 for none), and returns the pid it ended. It waits
// for that listener to be connected.
func killListener(t *testing.T, db *sql.DB, name string, before int) int {
	t.Helper()
	deadline := time.Now().Add(waitTime)
	for {
		pids := listenerPIDs(t, db, name)
		if len(pids) == 1 && pids[0] != before {
			var ok bool
			if err := db.QueryRow(`SELECT pg_terminate_backend($1)`, pids[0]).Scan(&ok); err != nil || !ok {
				t.Fatalf("pg_terminate_backend(%d) = %v, %v", pids[0], ok, err)
			}
			return pids[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("listener %q has backends %v, want one other than %d", name, pids, before)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// within returns the next event of sub if one comes within d.
func within(sub *Subscription, d time.Duration) (Event, bool) {
	select {
	case ev, ok := <-sub.Events():
		return ev, ok
	case <-time.After(d):
		return Event{}, false
	}
}

func TestPostgresListenerTerminated(t *testing.T) {
	const name = "storybot-broker-test-b"
	tests := []struct {
		name  string
		kills int // times in a row the listener's backend is ended
	}{
		{"ended once", 1},
		{"ended again as soon as it is back", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn := newTestDB(t)
			a := newTestPostgres(t, dsn)
			b := newTestPostgres(t, dsn, WithListenerName(name), WithReconnect(50*time.Millisecond, time.Second))
			sub := b.Subscribe("st_a")
			evs := textEvents("st_a", 200)
			db, err := sql.Open("postgres", dsn)
			if err != nil {
				t.Fatalf("opening database: %v", err)
			}
			defer db.Close()

			publish(t, a, evs[0])
			if diff := cmp.Diff(evs[0], next(t, sub)); diff != "" {
				t.Fatalf("before the kill (-want +got):\n%s", diff)
			}

			pid := 0
			for range tt.kills {
				pid = killListener(t, db, name, pid)
			}
			if ev := next(t, sub); !ev.Resync {
				t.Fatalf("after the kill got %+v, want a Resync", ev)
			}

			// Publish until the listener is back and an event arrives; the
			// ones published before may be lost for good.
			i, first := 1, -1
			for deadline := time.Now().Add(waitTime); first < 0; i++ {
				if time.Now().After(deadline) || i == len(evs)-10 {
					t.Fatal("no event arrived after the listener was ended")
				}
				publish(t, a, evs[i])
				for {
					ev, ok := within(sub, 100*time.Millisecond)
					if !ok {
						break
					}
					if !ev.Resync {
						first = slices.IndexFunc(evs, func(e Event) bool { return e.Offset == ev.Offset })
						break
					}
				}
			}
			t.Logf("event %d arrived first after the kill, of %d published", first, i-1)

			// From then on every event arrives, in order.
			publish(t, a, evs[i:i+10]...)
			want := evs[first+1 : i+10]
			if diff := cmp.Diff(want, collect(t, sub, len(want))); diff != "" {
				t.Errorf("after the reconnect (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPostgresRejects(t *testing.T) {
	dsn := newTestDB(t)
	p := newTestPostgres(t, dsn)
	for _, ev := range []Event{
		{Delta: "x"},
		{StoryID: "st_a", Resync: true},
		{StoryID: "st_a", Delta: "\xff"},
	} {
		if err := p.Publish(context.Background(), ev); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("Publish(%+v) = %v, want ErrInvalidEvent", ev, err)
		}
	}
}

func TestPostgresClose(t *testing.T) {
	dsn := newTestDB(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	ctx := context.Background()
	a, err := NewPostgres(ctx, dsn, testLogger(t), WithPing(10*time.Millisecond, time.Second))
	if err != nil {
		t.Fatalf("NewPostgres: %v", err)
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatalf("opening database: %v", err)
	}
	defer db.Close()
	b, err := NewPostgres(ctx, dsn, nil, WithDB(db))
	if err != nil {
		t.Fatalf("NewPostgres with WithDB: %v", err)
	}

	subA, subB := a.Subscribe("st_a"), b.Subscribe("st_a")
	evs := textEvents("st_a", 3)
	publish(t, b, evs...)
	for _, sub := range []*Subscription{subA, subB} {
		if diff := cmp.Diff(evs, collect(t, sub, len(evs))); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	}
	time.Sleep(50 * time.Millisecond) // let the pinger run

	for _, p := range []*Postgres{a, b} {
		for i := range 2 {
			if err := p.Close(); err != nil {
				t.Errorf("Close #%d: %v", i+1, err)
			}
		}
		if err := p.Publish(ctx, evs[0]); !errors.Is(err, ErrClosed) {
			t.Errorf("Publish after Close = %v, want ErrClosed", err)
		}
		if late := p.Subscribe("st_a"); !isClosed(late) {
			t.Error("Subscribe after Close returned an open subscription")
		}
	}
	for _, sub := range []*Subscription{subA, subB} {
		if !isClosed(sub) {
			t.Error("Close left a subscription open")
		}
	}
	if err := db.PingContext(ctx); err != nil {
		t.Errorf("Close closed the pool given with WithDB: %v", err)
	}
}

// silentServer accepts TCP connections and never answers, like a database
// behind a dead network. It stops when t ends.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(io.Discard, c) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().(*net.TCPAddr).AddrPort().String()
}

func TestNewPostgresFails(t *testing.T) {
	dsn := newTestDB(t)
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatalf("opening database: %v", err)
	}
	defer db.Close()

	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	closedPort := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	silent := silentServer(t)
	silentHost, silentPort, _ := strings.Cut(silent, ":")

	tests := []struct {
		name    string
		dsn     string
		opts    []Option
		timeout time.Duration
		want    error // nil: any error
	}{
		{
			name:    "database refuses connections",
			dsn:     "host=127.0.0.1 sslmode=disable user=postgres port=" + strconv.Itoa(closedPort),
			timeout: waitTime,
		},
		{
			name:    "listener refused though publishing works",
			dsn:     "host=127.0.0.1 sslmode=disable user=postgres port=" + strconv.Itoa(closedPort),
			opts:    []Option{WithDB(db)},
			timeout: waitTime,
		},
		{
			name:    "listener never answered before the deadline",
			dsn:     "sslmode=disable user=postgres host=" + silentHost + " port=" + silentPort,
			opts:    []Option{WithDB(db)},
			timeout: 300 * time.Millisecond,
			want:    context.DeadlineExceeded,
		},
		{
			name:    "malformed DSN",
			dsn:     "postgres://%zz",
			timeout: waitTime,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			start := time.Now()
			p, err := NewPostgres(ctx, tt.dsn, testLogger(t), tt.opts...)
			if err == nil {
				_ = p.Close()
				t.Fatal("NewPostgres succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("NewPostgres = %v, want %v", err, tt.want)
			}
			if took := time.Since(start); took > tt.timeout+5*time.Second {
				t.Errorf("NewPostgres took %v to fail", took)
			}
			t.Logf("NewPostgres: %v", err)
		})
	}
}

// freezingProxy forwards TCP connections to a server until freeze, after
// which the connections open at that moment carry nothing more either way
// but stay open, as over a network that went silent. Connections made later
// work.
type freezingProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  []net.Conn
	frozen chan struct{} // closed by freeze for the connections open then
}

// newFreezingProxy starts a proxy to target and stops it when t ends.
func newFreezingProxy(t *testing.T, target string) *freezingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	p := &freezingProxy{ln: ln, target: target, frozen: make(chan struct{})}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// hostPort returns the proxy's address as DSN parameters.
func (p *freezingProxy) hostPort() string {
	addr := p.ln.Addr().(*net.TCPAddr)
	return "host=" + addr.IP.String() + " port=" + strconv.Itoa(addr.Port)
}

func (p *freezingProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		frozen := p.frozen
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(server, client, frozen) })
		p.wg.Go(func() { p.pipe(client, server, frozen) })
	}
}

// pipe copies src to dst until either ends, dropping what it reads once
// frozen is closed.
func (p *freezingProxy) pipe(dst, src net.Conn, frozen <-chan struct{}) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		select {
		case <-frozen:
			continue
		default:
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

// freeze silences the connections open now.
func (p *freezingProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	close(p.frozen)
	p.frozen = make(chan struct{})
}

func TestPostgresPingDropsSilentConnection(t *testing.T) {
	dsn := newTestDB(t)
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatalf("opening database: %v", err)
	}
	defer db.Close()
	var host, port string
	if err := db.QueryRow(`SELECT host(inet_server_addr()), inet_server_port()::text`).Scan(&host, &port); err != nil {
		t.Fatalf("finding the server's address: %v", err)
	}
	proxy := newFreezingProxy(t, net.JoinHostPort(host, port))

	a := newTestPostgres(t, dsn)
	b := newTestPostgres(t, dsn+" "+proxy.hostPort(),
		WithDB(db), WithPing(50*time.Millisecond, 300*time.Millisecond), WithReconnect(50*time.Millisecond, time.Second))
	sub := b.Subscribe("st_a")
	evs := textEvents("st_a", 3)

	publish(t, a, evs[0])
	if diff := cmp.Diff(evs[0], next(t, sub)); diff != "" {
		t.Fatalf("before the freeze (-want +got):\n%s", diff)
	}

	proxy.freeze()
	if ev := next(t, sub); !ev.Resync {
		t.Fatalf("after the freeze got %+v, want a Resync", ev)
	}
	// Wait for the listener to be back: its Resync, or events.
	deadline := time.Now().Add(waitTime)
	for {
		publish(t, a, evs[1])
		ev, ok := within(sub, 200*time.Millisecond)
		for ok && ev.Resync {
			ev, ok = within(sub, 200*time.Millisecond)
		}
		if ok {
			if diff := cmp.Diff(evs[1], ev); diff != "" {
				t.Fatalf("after the reconnect (-want +got):\n%s", diff)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no event arrived after the connection went silent")
		}
	}
	publish(t, a, evs[2])
	for {
		ev := next(t, sub)
		if ev.Offset == evs[1].Offset {
			continue // an earlier try of the same event
		}
		if diff := cmp.Diff(evs[2], ev); diff != "" {
			t.Errorf("later event (-want +got):\n%s", diff)
		}
		break
	}
}

// TestPostgresPublishInGroups publishes many stories' events at once, as a
// replica running many stories does: each story's events reach the other
// replica complete and in order, packed into fewer notifications than
// events.
func TestPostgresPublishInGroups(t *testing.T) {
	dsn := newTestDB(t)
	a := newTestPostgres(t, dsn)
	b := newTestPostgres(t, dsn)

	// Count the notifications on the channel with a listener of our own.
	var notifications atomic.Int64
	counter := pq.NewListener(dsn, time.Second, time.Second, nil)
	t.Cleanup(func() { _ = counter.Close() })
	if err := counter.Listen(DefaultChannel); err != nil {
		t.Fatal(err)
	}
	go func() {
		for n := range counter.Notify {
			if n != nil {
				notifications.Add(1)
			}
		}
	}()

	const stories, perStory = 200, 5
	want := make(map[string][]Event, stories)
	subs := make(map[string]*Subscription, stories)
	for i := range stories {
		id := fmt.Sprintf("st_%03d", i)
		want[id] = textEvents(id, perStory)
		subs[id] = b.Subscribe(id)
	}
	var wg sync.WaitGroup
	for _, evs := range want {
		wg.Go(func() { publish(t, a, evs...) })
	}
	wg.Wait()
	for id, evs := range want {
		if diff := cmp.Diff(evs, collect(t, subs[id], perStory)); diff != "" {
			t.Errorf("story %s (-want +got):\n%s", id, diff)
		}
	}
	// The counter got every notification before b got the last event, give
	// or take its own connection's pace.
	time.Sleep(200 * time.Millisecond)
	if n := notifications.Load(); n == 0 || n >= stories*perStory {
		t.Errorf("%d events came in %d notifications, want fewer notifications than events", stories*perStory, n)
	} else {
		t.Logf("%d events came in %d notifications", stories*perStory, n)
	}
}

func TestPackPayloads(t *testing.T) {
	var payloads []string
	for i := range 300 {
		payloads = append(payloads, fmt.Sprintf(`{"s":"st_%03d","o":0,"d":%q}`, i, strings.Repeat("x", i%97)))
	}
	payloads = append(payloads, `{"s":"st_big","o":0,"d":"`+strings.Repeat("y", maxPayload-30)+`"}`)
	packed := packPayloads(payloads)
	var got []string
	for _, n := range packed {
		if len(n) > maxPayload {
			t.Errorf("a notification of %d bytes, more than %d", len(n), maxPayload)
		}
		events, errs := decodeNotification(n)
		if len(errs) > 0 {
			t.Fatalf("decoding a packed notification: %v", errs)
		}
		for _, ev := range events {
			got = append(got, ev.StoryID)
		}
	}
	if len(packed) >= len(payloads)/2 {
		t.Errorf("%d payloads packed into %d notifications", len(payloads), len(packed))
	}
	if len(got) != len(payloads) || got[0] != "st_000" || got[299] != "st_299" || got[300] != "st_big" {
		t.Errorf("unpacked %d events (%v ... ), want the %d packed, in order", len(got), got[:min(3, len(got))], len(payloads))
	}
}

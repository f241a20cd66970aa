package broker

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"

	"github.com/storybot/storybot/internal/telemetry"
)

// notifySQL publishes notifications in one statement, and so in one
// transaction: they arrive together and in the array's order, or not at all.
// pg_notify takes the channel as a value, where NOTIFY would need it
// spliced into the statement.
const notifySQL = `SELECT count(pg_notify($1, payload)) FROM unnest($2::text[]) AS payload`

// Publishing commits in groups: each event waits in a queue that up to
// maxPublishing writers, started on demand, take whole, packing the
// payloads of every event in it into as few notifications as fit, in one
// statement. Alone, an event is sent at once; a replica running a thousand
// stories sends their text of one flush in a handful of notifications
// rather than a thousand statements.
const (
	maxPublishing     = 2
	maxPublishPayload = 1 << 20 // bytes of payloads per statement
)

// publishReq is one event waiting to be published.
type publishReq struct {
	ctx      context.Context
	payloads []string
	err      error
	done     chan struct{} // closed once err is set
}

// Postgres is a [Broker] over PostgreSQL's LISTEN/NOTIFY, for replicas that
// share a database.
//
// Every event of every story travels on one channel ([DefaultChannel]
// unless set with [WithChannel]) as a payload of compact JSON; an event
// with more text than fits a payload is split into several with
// consecutive offsets, cut between characters. Payloads published at the
// same time share notifications, one per line, each notification at most
// 7,000 bytes, under NOTIFY's limit of 8,000. Each replica
// keeps one listening connection and hands each notification to the local
// subscribers of its story; events published here reach local subscribers
// the same way, so every subscriber sees a story's events in commit order.
//
// Notifications sent while the listening connection is down are lost for
// good, so when it is lost, and again once it is back, every subscription
// gets a Resync. The connection is pinged periodically ([WithPing]), and one
// whose ping does not come back in time is dropped and made again.
type Postgres struct {
	opts     options
	logger   *slog.Logger
	db       *sql.DB
	ownDB    bool
	hub      *hub
	dialer   *listenerDialer
	listener *pq.Listener

	started     atomic.Bool
	closing     atomic.Bool
	startFailed chan error // the first failed connection attempt before start

	pubMu      sync.Mutex
	pubQueue   []*publishReq // events waiting for a publisher
	publishers int           // publishQueued goroutines running

	stopPing  context.CancelFunc
	wg        sync.WaitGroup // the dispatcher and the pinger
	closeOnce sync.Once
	closeErr  error
}

var _ Broker = (*Postgres)(nil)

// NewPostgres connects to the database at dsn (a lib/pq connection string)
// and starts listening for story events. It returns once the listener is in
// place, or with an error when ctx ends first or the database cannot be
// reached. A nil logger discards the logs.
func NewPostgres(ctx context.Context, dsn string, logger *slog.Logger, opts ...Option) (*Postgres, error) {
	o := newOptions(opts)
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Postgres{
		opts:        o,
		logger:      logger.With(slog.String("log.logger", "broker"), slog.String("storybot.broker.channel", o.channel)),
		db:          o.db,
		hub:         newHub(o.bufferSize),
		dialer:      newListenerDialer(),
		startFailed: make(chan error, 1),
	}

	listenerDSN, err := withDSNParam(dsn, "application_name", o.listenerName)
	if err != nil {
		return nil, fmt.Errorf("broker: parsing DSN: %w", err)
	}
	if p.db == nil {
		publisherDSN, err := withDSNParam(dsn, "fallback_application_name", publisherName)
		if err != nil {
			return nil, fmt.Errorf("broker: parsing DSN: %w", err)
		}
		if p.db, err = sql.Open("postgres", publisherDSN); err != nil {
			return nil, fmt.Errorf("broker: opening database: %w", err)
		}
		// Publishing is one short statement: a few connections carry many
		// stories, and the server's max_connections stays safe.
		p.db.SetMaxOpenConns(8)
		p.db.SetMaxIdleConns(8)
		p.ownDB = true
	}
	if err := p.db.PingContext(ctx); err != nil {
		_ = p.closeDB()
		return nil, fmt.Errorf("broker: connecting to database: %w", err)
	}

	p.listener = pq.NewDialListener(p.dialer, listenerDSN, o.minReconnect, o.maxReconnect, p.onListenerEvent)
	p.wg.Add(1)
	go p.dispatch()
	if err := p.listen(ctx); err != nil {
		_ = p.stopListener()
		p.wg.Wait()
		_ = p.closeDB()
		return nil, fmt.Errorf("broker: listening on channel %q: %w", o.channel, err)
	}
	p.started.Store(true)

	pingCtx, stop := context.WithCancel(context.Background())
	p.stopPing = stop
	p.wg.Add(1)
	go p.pingLoop(pingCtx)
	return p, nil
}

// listen subscribes the listener to the channel, giving up when ctx ends or
// the first attempt to connect fails.
func (p *Postgres) listen(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- p.listener.Listen(p.opts.channel) }()
	select {
	case err := <-done:
		return err
	case err := <-p.startFailed:
		return p.abandonListen(done, err)
	case <-ctx.Done():
		return p.abandonListen(done, ctx.Err())
	}
}

// abandonListen stops the listener, waits for the Listen call reporting to
// done to return, and returns err.
func (p *Postgres) abandonListen(done <-chan error, err error) error {
	_ = p.stopListener()
	<-done
	return err
}

// stopListener makes the listener's goroutine end, and with it the dispatcher.
// The first call returns the listener's error from closing; later calls
// return net.ErrClosed.
func (p *Postgres) stopListener() error {
	p.closing.Store(true)
	p.dialer.stop()
	return p.listener.Close()
}

// Publish sends ev to the story's subscribers on every replica: as one
// payload or, when its text is too long for one, as several, which travel
// in one transaction, packed with the payloads of the other events
// published at the same time. An Error too long for a notification is
// cut. Publish fails with [ErrInvalidEvent], with [ErrClosed] after Close,
// or with the database's error, in which case no replica got the event.
func (p *Postgres) Publish(ctx context.Context, ev Event) error {
	if err := validate(ev); err != nil {
		return err
	}
	if p.closing.Load() {
		return ErrClosed
	}
	payloads, err := encodePayloads(ev)
	if err != nil {
		return err
	}
	req := &publishReq{ctx: ctx, payloads: payloads, done: make(chan struct{})}
	p.pubMu.Lock()
	p.pubQueue = append(p.pubQueue, req)
	if p.publishers < maxPublishing {
		p.publishers++
		go p.publishQueued()
	}
	p.pubMu.Unlock()
	<-req.done
	if err := req.err; err != nil {
		if p.closing.Load() {
			err = errors.Join(ErrClosed, err)
		}
		return fmt.Errorf("broker: publishing event of story %q at offset %d: %w", ev.StoryID, ev.Offset, err)
	}
	return nil
}

// publishQueued sends the queued events in groups until the queue is empty.
func (p *Postgres) publishQueued() {
	for {
		p.pubMu.Lock()
		n, size := 0, 0
		for n < len(p.pubQueue) && (n == 0 || size < maxPublishPayload) {
			for _, payload := range p.pubQueue[n].payloads {
				size += len(payload) + 1
			}
			n++
		}
		if n == 0 {
			p.publishers--
			p.pubMu.Unlock()
			return
		}
		group := p.pubQueue[:n:n]
		// A new array for the rest, so that the published ones can go.
		p.pubQueue = append([]*publishReq(nil), p.pubQueue[n:]...)
		p.pubMu.Unlock()
		p.notify(group)
		for _, req := range group {
			close(req.done)
		}
	}
}

// notify publishes a group of events in one statement. Events whose caller
// gave up while they waited are left out. The statement runs under the
// first remaining caller's context, without its cancellation: it carries
// the others' events too.
func (p *Postgres) notify(group []*publishReq) {
	var (
		payloads []string
		ctx      context.Context
	)
	for _, req := range group {
		if req.err = req.ctx.Err(); req.err != nil {
			continue
		}
		if ctx == nil {
			ctx = req.ctx
		}
		payloads = append(payloads, req.payloads...)
	}
	if ctx == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	_, err := p.db.ExecContext(ctx, notifySQL, p.opts.channel, pq.StringArray(packPayloads(payloads)))
	for _, req := range group {
		if req.err == nil {
			req.err = err
		}
	}
}

// publishTimeout bounds one group's statement.
const publishTimeout = 5 * time.Second

// Subscribe returns a subscription to the events of storyID that arrive from
// now on. After Close its channel is already closed.
func (p *Postgres) Subscribe(storyID string) *Subscription {
	return p.hub.subscribe(storyID)
}

// Close stops the listener and the pinger, closes every subscription and the
// broker's own connections, and waits for its goroutines to end. While the
// database is unreachable that can take up to the longest reconnect wait.
// Later calls return the first call's result.
func (p *Postgres) Close() error {
	p.closeOnce.Do(func() {
		p.stopPing()
		if err := p.stopListener(); err != nil {
			p.closeErr = fmt.Errorf("broker: closing listener: %w", err)
		}
		p.wg.Wait()
		p.hub.close()
		if err := p.closeDB(); err != nil {
			p.closeErr = errors.Join(p.closeErr, fmt.Errorf("broker: closing database: %w", err))
		}
	})
	return p.closeErr
}

// closeDB closes the publishing pool if the broker opened it.
func (p *Postgres) closeDB() error {
	if !p.ownDB {
		return nil
	}
	return p.db.Close()
}

// dispatch hands each notification to the local subscribers of its story
// until the listener closes its channel. A nil notification follows a
// reconnect.
func (p *Postgres) dispatch() {
	defer p.wg.Done()
	for n := range p.listener.Notify {
		if n == nil {
			if !p.closing.Load() {
				p.hub.resyncAll()
			}
			continue
		}
		if n.Channel != p.opts.channel {
			continue
		}
		events, errs := decodeNotification(n.Extra)
		if len(errs) > 0 {
			p.logger.Warn("ignoring what a notification carries besides story events",
				slog.Int("storybot.broker.sender_pid", n.BePid), slog.Int("storybot.broker.bytes", len(n.Extra)), telemetry.Error(errors.Join(errs...)))
		}
		for _, ev := range events {
			p.hub.deliver(ev)
		}
	}
}

// onListenerEvent is called by the listener's goroutine when its connection
// changes; it must not block.
func (p *Postgres) onListenerEvent(event pq.ListenerEventType, err error) {
	if p.closing.Load() {
		return
	}
	switch event {
	case pq.ListenerEventConnected:
		p.logger.Info("listener connected")
	case pq.ListenerEventDisconnected:
		p.logger.Warn("listener lost its connection; subscribers will reload",
			slog.Int("storybot.broker.subscriptions", p.hub.count()), telemetry.Error(err))
		p.hub.resyncAll()
	case pq.ListenerEventReconnected:
		p.logger.Info("listener reconnected; subscribers will reload",
			slog.Int("storybot.broker.subscriptions", p.hub.count()))
	case pq.ListenerEventConnectionAttemptFailed:
		if !p.started.Load() {
			select {
			case p.startFailed <- err:
			default:
			}
			return
		}
		p.logger.Warn("listener failed to connect", telemetry.Error(err))
	}
}

// pingLoop pings the listening connection until ctx ends.
func (p *Postgres) pingLoop(ctx context.Context) {
	defer p.wg.Done()
	ticker := time.NewTicker(p.opts.pingInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			p.ping(ctx)
		}
	}
}

// ping pings the listening connection once, and drops it when the answer
// takes longer than the ping timeout.
func (p *Postgres) ping(ctx context.Context) {
	done := make(chan error, 1)
	go func() { done <- p.listener.Ping() }()
	timer := time.NewTimer(p.opts.pingTimeout)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			p.logger.Warn("listener ping failed", telemetry.Error(err))
		}
		return
	case <-timer.C:
		p.logger.Warn("listener ping timed out; dropping the connection",
			slog.Duration("storybot.broker.ping_timeout", p.opts.pingTimeout))
		p.dialer.drop()
	case <-ctx.Done():
		// Close stops the dialer, which ends the ping.
	}
	<-done
}

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
)

// notifySQL publishes one payload; pg_notify takes the channel as a value,
// where NOTIFY would need it spliced into the statement.
const notifySQL = `SELECT pg_notify($1, $2)`

// Postgres is a [Broker] over PostgreSQL's LISTEN/NOTIFY, for replicas that
// share a database.
//
// Every event of every story travels on one channel ([DefaultChannel]
// unless set with [WithChannel]) as compact JSON of at most 7,000 bytes,
// under NOTIFY's limit of 8,000: an event with more text is split into
// several with consecutive offsets, cut between characters. Each replica
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
		logger:      logger.With(slog.String("component", "broker"), slog.String("channel", o.channel)),
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

// Publish sends ev to the story's subscribers on every replica, as one
// notification or, when its text is too long for one, as several sent in
// one transaction. An Error too long for a notification is cut. Publish
// fails with [ErrInvalidEvent], with [ErrClosed] after Close, or with the
// database's error, in which case no replica got the event.
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
	if len(payloads) == 1 {
		_, err = p.db.ExecContext(ctx, notifySQL, p.opts.channel, payloads[0])
	} else {
		err = p.notifyAll(ctx, payloads)
	}
	if err != nil {
		if p.closing.Load() {
			err = errors.Join(ErrClosed, err)
		}
		return fmt.Errorf("broker: publishing event of story %q at offset %d: %w", ev.StoryID, ev.Offset, err)
	}
	return nil
}

// notifyAll sends payloads in one transaction, so that they arrive together
// and in order, or not at all.
func (p *Postgres) notifyAll(ctx context.Context, payloads []string) (err error) {
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	for _, payload := range payloads {
		if _, err = tx.ExecContext(ctx, notifySQL, p.opts.channel, payload); err != nil {
			return err
		}
	}
	return tx.Commit()
}

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
		ev, err := decodePayload(n.Extra)
		if err != nil {
			p.logger.Warn("ignoring a notification that carries no story event",
				slog.Int("sender_pid", n.BePid), slog.Int("bytes", len(n.Extra)), slog.Any("error", err))
			continue
		}
		p.hub.deliver(ev)
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
			slog.Int("subscriptions", p.hub.count()), slog.Any("error", err))
		p.hub.resyncAll()
	case pq.ListenerEventReconnected:
		p.logger.Info("listener reconnected; subscribers will reload",
			slog.Int("subscriptions", p.hub.count()))
	case pq.ListenerEventConnectionAttemptFailed:
		if !p.started.Load() {
			select {
			case p.startFailed <- err:
			default:
			}
			return
		}
		p.logger.Warn("listener failed to connect", slog.Any("error", err))
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
			p.logger.Warn("listener ping failed", slog.Any("error", err))
		}
		return
	case <-timer.C:
		p.logger.Warn("listener ping timed out; dropping the connection",
			slog.Duration("timeout", p.opts.pingTimeout))
		p.dialer.drop()
	case <-ctx.Done():
		// Close stops the dialer, which ends the ping.
	}
	<-done
}

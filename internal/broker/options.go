package broker

import (
	"database/sql"
	"time"
)

// Defaults of the options.
const (
	// DefaultBufferSize is the number of events a subscription buffers,
	// one slot of which is kept for a Resync.
	DefaultBufferSize = 128

	// DefaultChannel is the NOTIFY channel that carries the events of
	// every story.
	DefaultChannel = "storybot_story_events"

	// DefaultListenerName is the application_name of the listening
	// connection, as pg_stat_activity shows it.
	DefaultListenerName = "storybot-broker-listener"

	// DefaultPingInterval is how often the listening connection is
	// pinged, and DefaultPingTimeout how long a ping may take before
	// the connection is taken for dead and dropped.
	DefaultPingInterval = 15 * time.Second
	DefaultPingTimeout  = 10 * time.Second

	// DefaultMinReconnect and DefaultMaxReconnect bound the wait between
	// attempts to connect the listener again; it doubles after each
	// failed attempt.
	DefaultMinReconnect = 500 * time.Millisecond
	DefaultMaxReconnect = 5 * time.Second
)

// publisherName is the fallback application_name of the connections that
// publish.
const publisherName = "storybot-broker"

// Option configures a broker. Options that name Postgres in their
// documentation have no effect on [Memory].
type Option func(*options)

// options holds the settings of a broker.
type options struct {
	bufferSize   int
	channel      string
	listenerName string
	pingInterval time.Duration
	pingTimeout  time.Duration
	minReconnect time.Duration
	maxReconnect time.Duration
	db           *sql.DB
}

// newOptions applies opts over the defaults.
func newOptions(opts []Option) options {
	o := options{
		bufferSize:   DefaultBufferSize,
		channel:      DefaultChannel,
		listenerName: DefaultListenerName,
		pingInterval: DefaultPingInterval,
		pingTimeout:  DefaultPingTimeout,
		minReconnect: DefaultMinReconnect,
		maxReconnect: DefaultMaxReconnect,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithBufferSize sets the number of events each subscription buffers. One
// slot is kept for a Resync, so sizes below 2 are taken as 2.
func WithBufferSize(n int) Option {
	return func(o *options) { o.bufferSize = max(n, 2) }
}

// WithChannel sets the NOTIFY channel of a Postgres broker, so that separate
// deployments can share a database. Every replica of one deployment must use
// the same channel.
func WithChannel(name string) Option {
	return func(o *options) {
		if name != "" {
			o.channel = name
		}
	}
}

// WithListenerName sets the application_name of a Postgres broker's
// listening connection, which overrides any application_name in the DSN.
func WithListenerName(name string) Option {
	return func(o *options) {
		if name != "" {
			o.listenerName = name
		}
	}
}

// WithPing sets how often a Postgres broker pings its listening connection
// and how long a ping may take before the connection is dropped and made
// again. Values that are not positive keep the defaults.
func WithPing(interval, timeout time.Duration) Option {
	return func(o *options) {
		if interval > 0 {
			o.pingInterval = interval
		}
		if timeout > 0 {
			o.pingTimeout = timeout
		}
	}
}

// WithReconnect bounds the wait of a Postgres broker between attempts to
// connect its listener again. Close may wait up to max while the database
// is unreachable. Values that are not positive keep the defaults.
func WithReconnect(minWait, maxWait time.Duration) Option {
	return func(o *options) {
		if minWait > 0 {
			o.minReconnect = minWait
		}
		if maxWait > 0 {
			o.maxReconnect = maxWait
		}
		o.maxReconnect = max(o.maxReconnect, o.minReconnect)
	}
}

// WithDB makes a Postgres broker publish through db, a pool of the
// application's that reaches the same database as the DSN, instead of a
// pool of its own. Close leaves db open.
func WithDB(db *sql.DB) Option {
	return func(o *options) { o.db = db }
}

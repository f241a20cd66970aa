// Package database opens storybot's store: Postgres through lib/pq when a
// DATABASE_URL is given, else an embedded SQLite file (modernc.org/sqlite, no
// cgo) under the data directory. It also owns the schema migrations.
package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/XSAM/otelsql"
	_ "github.com/lib/pq" // registers the "postgres" driver
	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/storybot/storybot/ent"
)

// SQLiteFile is the name of the embedded database file in the data directory.
const SQLiteFile = "storybot.db"

// Options says which database to open.
type Options struct {
	// URL is a postgres:// URL. Empty means the embedded SQLite database.
	URL string
	// DataDir holds the embedded SQLite file; it is created if missing.
	DataDir string
	// MaxOpenConns caps the Postgres connection pool (0: a default).
	MaxOpenConns int
	// TracerProvider, when set, makes a span of each statement run under a
	// recorded span (the statements of storybot's background work, outside
	// any traced request or story, get none).
	TracerProvider trace.TracerProvider
}

// DB is an open store: the Ent client and the *sql.DB beneath it.
type DB struct {
	// Client is the Ent client over DB.
	Client *ent.Client
	// SQL is the connection pool, for health checks and pool metrics.
	SQL *sql.DB
	// Dialect is dialect.Postgres or dialect.SQLite.
	Dialect string
	// URL is the Postgres URL, empty for SQLite.
	URL string
}

// Open connects to the database and brings its schema up to date: Postgres
// by the versioned migrations, SQLite by Ent's automatic migration.
func Open(ctx context.Context, opts Options) (*DB, error) {
	var (
		db  *DB
		err error
	)
	if opts.URL != "" {
		db, err = openPostgres(ctx, opts)
	} else {
		db, err = openSQLite(ctx, opts)
	}
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func openPostgres(ctx context.Context, opts Options) (*DB, error) {
	if !strings.HasPrefix(opts.URL, "postgres://") && !strings.HasPrefix(opts.URL, "postgresql://") {
		return nil, errors.New("database: DATABASE_URL must be a postgres:// URL")
	}
	sqldb, err := open("postgres", opts.URL, opts.TracerProvider, semconv.DBSystemNamePostgreSQL)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	conns := opts.MaxOpenConns
	if conns <= 0 {
		conns = 20
	}
	sqldb.SetMaxOpenConns(conns)
	sqldb.SetMaxIdleConns(conns)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	if err := ping(ctx, sqldb); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("database: connecting to Postgres at %s: %w", redact(opts.URL), err)
	}
	return newDB(sqldb, dialect.Postgres, opts.URL), nil
}

func openSQLite(ctx context.Context, opts Options) (*DB, error) {
	dir := opts.DataDir
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("database: creating the data directory: %w", err)
	}
	// WAL lets readers run beside the writer; immediate transactions take the
	// write lock up front, so two writers wait for each other (busy_timeout)
	// instead of failing.
	dsn := "file:" + filepath.ToSlash(filepath.Join(dir, SQLiteFile)) +
		"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=synchronous(NORMAL)&_txlock=immediate&_time_format=sqlite"
	sqldb, err := open("sqlite", dsn, opts.TracerProvider, semconv.DBSystemNameSQLite)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	sqldb.SetMaxOpenConns(4)
	if err := ping(ctx, sqldb); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("database: opening %s: %w", filepath.Join(dir, SQLiteFile), err)
	}
	return newDB(sqldb, dialect.SQLite, ""), nil
}

// open opens a pool of connections to dsn by the driver named driverName,
// whose statements are spans of tp when tp is not nil.
func open(driverName, dsn string, tp trace.TracerProvider, system attribute.KeyValue) (*sql.DB, error) {
	if tp == nil {
		return sql.Open(driverName, dsn)
	}
	return otelsql.Open(driverName, dsn,
		otelsql.WithTracerProvider(tp),
		otelsql.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelsql.WithAttributes(system),
		otelsql.WithSpanOptions(otelsql.SpanOptions{
			OmitConnResetSession: true, OmitRows: true, OmitConnectorConnect: true,
			SpanFilter: func(ctx context.Context, _ otelsql.Method, _ string, _ []driver.NamedValue) bool {
				return trace.SpanFromContext(ctx).IsRecording()
			},
		}))
}

func newDB(sqldb *sql.DB, name, url string) *DB {
	drv := entsql.OpenDB(name, sqldb)
	return &DB{Client: ent.NewClient(ent.Driver(drv)), SQL: sqldb, Dialect: name, URL: url}
}

// Ping reports whether the database answers within a short time.
func (db *DB) Ping(ctx context.Context) error {
	return ping(ctx, db.SQL)
}

func ping(ctx context.Context, sqldb *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return sqldb.PingContext(ctx)
}

// Close closes the Ent client and the pool.
func (db *DB) Close() error {
	return db.Client.Close()
}

// redact hides the password in a database URL for messages and logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

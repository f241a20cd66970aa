// Package database opens storybot's store: Postgres through lib/pq when a
// DATABASE_URL is given, else an embedded SQLite file (modernc.org/sqlite, no
// cgo) under the data directory. It also owns the schema migrations.
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/lib/pq"  // registers the "postgres" driver
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
		db, err = openSQLite(ctx, opts.DataDir)
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
	sqldb, err := sql.Open("postgres", opts.URL)
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

func openSQLite(ctx context.Context, dir string) (*DB, error) {
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
	sqldb, err := sql.Open("sqlite", dsn)
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

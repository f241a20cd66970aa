//go:build linux

package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	_ "github.com/lib/pq" // registers the "postgres" driver
)

// defaultServerURL is the Postgres server of the README's set-up.
const defaultServerURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// serverURL returns the Postgres server to create the bench database on: the
// flag's value, else STORYBOT_TEST_DATABASE_URL (as the tests use), else the
// local server.
func serverURL(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if u := os.Getenv("STORYBOT_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return defaultServerURL
}

// benchDB is the database one run creates and drops.
type benchDB struct {
	name  string
	url   string // the database's own URL
	admin *sql.DB
	db    *sql.DB
}

// createDB creates storybot_bench_<random> on the server at serverURL.
func createDB(ctx context.Context, serverURL string) (*benchDB, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil, fmt.Errorf("postgres URL: %w", err)
	}
	host := u.Hostname()
	if host != "127.0.0.1" && host != "localhost" && host != "::1" && !strings.HasPrefix(host, "/") {
		return nil, fmt.Errorf("postgres must be on this machine (127.0.0.1), not %q: the harness sends nothing elsewhere", host)
	}
	admin, err := sql.Open("postgres", serverURL)
	if err != nil {
		return nil, err
	}
	admin.SetMaxOpenConns(2)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := admin.PingContext(pingCtx); err != nil {
		admin.Close()
		return nil, fmt.Errorf("connecting to Postgres at %s: %w", u.Redacted(), err)
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	name := "storybot_bench_" + hex.EncodeToString(suffix)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return nil, fmt.Errorf("creating the bench database: %w", err)
	}
	u.Path = "/" + name
	q := u.Query()
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
	}
	u.RawQuery = q.Encode()
	b := &benchDB{name: name, url: u.String(), admin: admin}
	if b.db, err = sql.Open("postgres", b.url); err != nil {
		b.drop()
		return nil, err
	}
	b.db.SetMaxOpenConns(4)
	return b, nil
}

// drop removes the database, disconnecting whoever is still in it.
func (b *benchDB) drop() error {
	if b.db != nil {
		b.db.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := b.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+b.name+" WITH (FORCE)")
	b.admin.Close()
	return err
}

// installWriteCounter adds a trigger that records every UPDATE of a story
// row, with the time of the write.
func (b *benchDB) installWriteCounter(ctx context.Context) error {
	_, err := b.db.ExecContext(ctx, `
CREATE TABLE bench_story_writes (story_id text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE FUNCTION bench_count_story_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO bench_story_writes (story_id) VALUES (NEW.id);
	RETURN NULL;
END $$;
CREATE TRIGGER bench_story_writes AFTER UPDATE ON stories FOR EACH ROW EXECUTE FUNCTION bench_count_story_write();`)
	return err
}

// removeWriteCounter drops the trigger, so that later scenarios do not pay
// for it.
func (b *benchDB) removeWriteCounter(ctx context.Context) error {
	_, err := b.db.ExecContext(ctx, `
DROP TRIGGER IF EXISTS bench_story_writes ON stories;
DROP FUNCTION IF EXISTS bench_count_story_write();
DROP TABLE IF EXISTS bench_story_writes;`)
	return err
}

// storyWrites returns the times at which each story's row was updated.
func (b *benchDB) storyWrites(ctx context.Context, ids []string) (map[string][]time.Time, error) {
	rows, err := b.db.QueryContext(ctx, `SELECT story_id, at FROM bench_story_writes ORDER BY at`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	out := map[string][]time.Time{}
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			return nil, err
		}
		if want[id] {
			out[id] = append(out[id], at)
		}
	}
	return out, rows.Err()
}

// storedStory is a story row as the store holds it.
type storedStory struct {
	text   string
	status string
	tokens int
}

// stories reads the stored text and status of the given stories.
func (b *benchDB) stories(ctx context.Context, ids []string) (map[string]storedStory, error) {
	out := make(map[string]storedStory, len(ids))
	for start := 0; start < len(ids); start += 500 {
		batch := ids[start:min(start+500, len(ids))]
		args := make([]any, len(batch))
		marks := make([]string, len(batch))
		for i, id := range batch {
			args[i] = id
			marks[i] = fmt.Sprintf("$%d", i+1)
		}
		rows, err := b.db.QueryContext(ctx,
			`SELECT id, text, status, token_count FROM stories WHERE id IN (`+strings.Join(marks, ",")+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			var s storedStory
			if err := rows.Scan(&id, &s.text, &s.status, &s.tokens); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = s
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// baselineApplication is the application_name of the baseline's database
// connections, which lastSQL leaves out.
const baselineApplication = "storybot-bench-baseline"

// statements returns the statement each connection to the bench database
// but the baseline's runs or ran last, as pg_stat_activity shows them (the
// harness's own read no table of storybot's).
func (b *benchDB) statements(ctx context.Context) ([]string, error) {
	rows, err := b.db.QueryContext(ctx, `
SELECT query FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name <> $1`, baselineApplication)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var q string
		if err := rows.Scan(&q); err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, rows.Err()
}

// baselineURL is the bench database's URL for the baseline's connections.
func (b *benchDB) baselineURL() string {
	u, err := url.Parse(b.url)
	if err != nil {
		return b.url // createDB made it from a parsed URL
	}
	q := u.Query()
	q.Set("application_name", baselineApplication)
	u.RawQuery = q.Encode()
	return u.String()
}

// backends returns the process ids of the Postgres backends connected to
// the bench database, for their CPU time. On a server that is not local
// the ids mean nothing to /proc, and none is returned.
func (b *benchDB) backends() []int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := b.db.QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var pids []int
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// transactions returns how many transactions the bench database has
// committed or rolled back. Backends report to pg_stat_database within
// about a second, so a count over a window of a few seconds is close.
func (b *benchDB) transactions(ctx context.Context) (int64, error) {
	var n int64
	err := b.db.QueryRowContext(ctx, `SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
	return n, err
}

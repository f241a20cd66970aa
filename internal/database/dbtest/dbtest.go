// Package dbtest gives tests isolated, migrated databases: a fresh Postgres
// database per test (copied from a template migrated once per test binary)
// and a fresh embedded SQLite file per test.
//
// Postgres is found at STORYBOT_TEST_DATABASE_URL (default: the local server,
// user postgres). When it cannot be reached a test skips, except under
// CI=true, where it fails: CI never silently skips database tests.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	_ "github.com/lib/pq" // registers the "postgres" driver

	"github.com/storybot/storybot/internal/database"
)

// DefaultServerURL is the Postgres server tests use unless
// STORYBOT_TEST_DATABASE_URL says otherwise.
const DefaultServerURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Dialects are the stores every data test runs on.
var Dialects = []string{dialect.Postgres, dialect.SQLite}

var template struct {
	once sync.Once
	name string
	err  error
}

// ServerURL returns the URL of the Postgres server tests use.
func ServerURL() string {
	if u := os.Getenv("STORYBOT_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultServerURL
}

// Main runs the tests of a package and then drops the template database they
// shared. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	DropTemplate()
	os.Exit(code)
}

// DropTemplate drops the template database, for a TestMain that does more
// than Main.
func DropTemplate() {
	if template.name != "" {
		if admin, err := sql.Open("postgres", ServerURL()); err == nil {
			_, _ = admin.Exec("DROP DATABASE IF EXISTS " + template.name + " WITH (FORCE)")
			admin.Close()
		}
	}
}

// unavailable fails t under CI and skips it elsewhere.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("Postgres is required under CI=true: %v", err)
	}
	t.Skipf("Postgres not reachable (set STORYBOT_TEST_DATABASE_URL): %v", err)
}

// PostgresURL creates a fresh, migrated Postgres database for t and returns
// its URL; the database is dropped when t ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	admin, err := sql.Open("postgres", ServerURL())
	if err == nil {
		err = admin.PingContext(ctx)
	}
	if err != nil {
		unavailable(t, err)
	}
	defer admin.Close()

	template.once.Do(func() { template.name, template.err = makeTemplate(ctx, admin) })
	if template.err != nil {
		t.Fatalf("dbtest: preparing the template database: %v", template.err)
	}
	name := "storybot_test_" + randomSuffix()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" TEMPLATE "+template.name); err != nil {
		t.Fatalf("dbtest: creating %s: %v", name, err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("postgres", ServerURL())
		if err != nil {
			t.Errorf("dbtest: %v", err)
			return
		}
		defer admin.Close()
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("dbtest: dropping %s: %v", name, err)
		}
	})
	return withDatabase(ServerURL(), name)
}

// makeTemplate creates a database with every migration applied, to copy
// from. Copying a template is much faster than migrating each test database.
func makeTemplate(ctx context.Context, admin *sql.DB) (string, error) {
	name := "storybot_template_" + randomSuffix()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	db, err := database.Open(ctx, database.Options{URL: withDatabase(ServerURL(), name), MaxOpenConns: 2})
	if err != nil {
		return "", err
	}
	// CREATE DATABASE ... TEMPLATE needs the template to have no connections.
	return name, db.Close()
}

// Open returns a migrated, empty store of the given dialect for t, closed
// when t ends.
func Open(t testing.TB, dialectName string) *database.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var opts database.Options
	switch dialectName {
	case dialect.Postgres:
		opts.URL = PostgresURL(t)
		opts.MaxOpenConns = 10
	case dialect.SQLite:
		opts.DataDir = t.TempDir()
	default:
		t.Fatalf("dbtest: unknown dialect %q", dialectName)
	}
	db, err := database.Open(ctx, opts)
	if err != nil {
		t.Fatalf("dbtest: opening %s: %v", dialectName, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// ForEach runs f as a subtest on a fresh store of every dialect.
func ForEach(t *testing.T, f func(t *testing.T, db *database.DB)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(d, func(t *testing.T) { f(t, Open(t, d)) })
	}
}

func withDatabase(server, name string) string {
	u, err := url.Parse(server)
	if err != nil {
		panic(fmt.Sprintf("dbtest: bad server URL: %v", err))
	}
	u.Path = "/" + name
	return u.String()
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

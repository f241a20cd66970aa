package database_test

import (
	"context"
	"strings"
	"testing"

	"entgo.io/ent/dialect/sql/schema"

	"github.com/storybot/storybot/internal/database"
	"github.com/storybot/storybot/internal/database/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestMigrationsMatchSchema fails when the Ent schema and the versioned
// Postgres migrations disagree: after every migration has run, Ent must find
// nothing left to create, change or drop. Fix it with
// `make migration name=describe_the_change`.
func TestMigrationsMatchSchema(t *testing.T) {
	db := dbtest.Open(t, "postgres")
	var plan strings.Builder
	err := db.Client.Schema.WriteTo(context.Background(), &plan,
		schema.WithDropColumn(true), schema.WithDropIndex(true))
	if err != nil {
		t.Fatal(err)
	}
	var changes []string
	for _, line := range strings.Split(plan.String(), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line == "BEGIN;" || line == "COMMIT;" || strings.HasPrefix(line, "--") {
			continue
		}
		changes = append(changes, line)
	}
	if len(changes) > 0 {
		t.Errorf("the migrations do not build the Ent schema; run `make migration name=...`. Missing:\n%s",
			strings.Join(changes, "\n"))
	}
}

// TestMigrateIsIdempotent runs the migrations on an up-to-date database.
func TestMigrateIsIdempotent(t *testing.T) {
	db := dbtest.Open(t, "postgres")
	for range 2 {
		if err := db.MigratePostgres(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenRejectsBadURL(t *testing.T) {
	_, err := database.Open(context.Background(), database.Options{URL: "mysql://localhost/x"})
	if err == nil || !strings.Contains(err.Error(), "postgres://") {
		t.Errorf("Open(mysql URL) = %v, want an error naming postgres://", err)
	}
	_, err = database.Open(context.Background(), database.Options{URL: "postgres://nobody:secret@127.0.0.1:1/x?sslmode=disable&connect_timeout=1"})
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("Open(unreachable) = %v, want an error without the password", err)
	}
}

func TestSQLiteForeignKeysCascade(t *testing.T) {
	db := dbtest.Open(t, "sqlite3")
	var on int
	if err := db.SQL.QueryRow("PRAGMA foreign_keys").Scan(&on); err != nil || on != 1 {
		t.Fatalf("foreign_keys = %d (%v), want 1", on, err)
	}
}

//go:build ignore

// newmigration writes the next Postgres migration into ./migrations: the
// difference between the Ent schema and the schema the existing migrations
// build. It replays them on a scratch database that it creates and drops.
//
//	go run ./internal/database/newmigration.go NAME
//
// STORYBOT_DEV_DATABASE_URL names the Postgres server to use (default: the
// local one, user postgres).
package main

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"ariga.io/atlas/sql/sqltool"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/schema"
	_ "github.com/lib/pq"

	"github.com/storybot/storybot/ent/migrate"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: go run ./internal/database/newmigration.go NAME")
	}
	server := os.Getenv("STORYBOT_DEV_DATABASE_URL")
	if server == "" {
		server = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	if err := run(context.Background(), server, os.Args[1]); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, server, name string) error {
	admin, err := sql.Open("postgres", server)
	if err != nil {
		return err
	}
	defer admin.Close()
	scratch := fmt.Sprintf("storybot_newmigration_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+scratch); err != nil {
		return fmt.Errorf("creating the scratch database: %w", err)
	}
	defer admin.ExecContext(context.Background(), "DROP DATABASE "+scratch+" WITH (FORCE)")

	u, err := url.Parse(server)
	if err != nil {
		return err
	}
	u.Path = "/" + scratch

	dir, err := sqltool.NewGolangMigrateDir(filepath.Join("internal", "database", "migrations"))
	if err != nil {
		return err
	}
	return migrate.NamedDiff(ctx, u.String(), name,
		schema.WithDir(dir),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(dialect.Postgres),
		schema.WithFormatter(sqltool.GolangMigrateFormatter),
		schema.WithDropIndex(true),
		schema.WithDropColumn(true),
	)
}

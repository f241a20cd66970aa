package database

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"entgo.io/ent/dialect"
	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database/postgres"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

// Migrations holds the versioned Postgres migrations, in golang-migrate's
// format (NNN_name.up.sql / .down.sql). New ones are written by
// `make migration name=...` from the Ent schema; never edit an applied one.
//
//go:embed migrations/*.sql
var Migrations embed.FS

// migrate brings the schema up to date.
func (db *DB) migrate(ctx context.Context) error {
	if db.Dialect == dialect.SQLite {
		if err := db.Client.Schema.Create(ctx); err != nil {
			return fmt.Errorf("database: migrating SQLite: %w", err)
		}
		// Stories written before text_length existed hold all their text
		// (Postgres's migration 20261203191812 does the same).
		if _, err := db.SQL.ExecContext(ctx, `UPDATE stories SET text_length = octet_length(text) WHERE text_length < octet_length(text)`); err != nil {
			return fmt.Errorf("database: migrating SQLite: %w", err)
		}
		return nil
	}
	return db.MigratePostgres(ctx)
}

// MigratePostgres applies the pending versioned migrations. It takes
// Postgres's advisory lock, so replicas starting together apply each
// migration once.
func (db *DB) MigratePostgres(ctx context.Context) error {
	if db.Dialect != dialect.Postgres {
		return errors.New("database: versioned migrations are for Postgres only")
	}
	src, err := iofs.New(Migrations, "migrations")
	if err != nil {
		return fmt.Errorf("database: reading migrations: %w", err)
	}
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	driver, err := postgres.WithConnection(ctx, conn, &postgres.Config{MigrationsTable: "schema_migrations"})
	if err != nil {
		conn.Close()
		return fmt.Errorf("database: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "postgres", driver)
	if err != nil {
		driver.Close()
		return fmt.Errorf("database: %w", err)
	}
	defer m.Close()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("database: applying migrations: %w", err)
	}
	return nil
}

package main

import (
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database/postgres"
	"github.com/golang-migrate/migrate/v4/source/iofs"

	"github.com/storybot/storybot/internal/database"
	"github.com/storybot/storybot/internal/database/dbtest"
	"github.com/storybot/storybot/internal/pulid"
)

// beforeAccounts is the last migration before accounts existed.
const beforeAccounts = 20261125154520

// TestUpgradeGivesExistingDataToTheFirstAdmin takes a database back to
// before accounts (the down migration), fills it as a server of that time
// would have, with stories in every status, then starts storybot on it: the
// migration applies, the rows wait unowned and hidden, and the first account
// signs up as admin and receives all of them; a later account sees none.
func TestUpgradeGivesExistingDataToTheFirstAdmin(t *testing.T) {
	dsn := dbtest.PostgresURL(t)
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	src, err := iofs.New(database.Migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	driver, err := postgres.WithInstance(db, &postgres.Config{MigrationsTable: "schema_migrations"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "postgres", driver)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Migrate(beforeAccounts); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		t.Fatalf("migrating down to before accounts: %v", err)
	}

	prompt := pulid.New(pulid.PromptPrefix)
	now := time.Now().UTC()
	if _, err := db.Exec(`INSERT INTO prompts (id, created_at, updated_at, content) VALUES ($1, $2, $2, 'A prompt from before accounts')`, string(prompt), now); err != nil {
		t.Fatal(err)
	}
	statuses := []string{"PENDING", "GENERATING", "COMPLETED", "FAILED", "CANCELLED"}
	for i, status := range statuses {
		var lease any
		if status == "PENDING" || status == "GENERATING" {
			lease = now.Add(time.Hour) // a replica of the old version still holds it
		}
		_, err := db.Exec(`INSERT INTO stories (id, created_at, updated_at, status, text, token_count, model, max_tokens, prompt_id, lease_owner, lease_expires_at)
			VALUES ($1, $2, $2, $3, $4, 3, 'storyteller', 100, $5, $6, $7)`,
			string(pulid.New(pulid.StoryPrefix)), now.Add(time.Duration(i)*time.Millisecond), status,
			fmt.Sprintf("Old story %d.", i), string(prompt), "old-replica", lease)
		if err != nil {
			t.Fatal(err)
		}
	}

	s := launch(t, map[string]string{"DATABASE_URL": dsn})
	admin := s.as(s.newUser("first@example.com"))
	var v struct{ Viewer struct{ Role string } }
	admin.mustGQL(`{ viewer { role } }`, nil, &v)
	if v.Viewer.Role != "ADMIN" {
		t.Errorf("the first account after the upgrade is %s, want ADMIN", v.Viewer.Role)
	}
	var got struct {
		Prompts struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					ID, Content string
					Stories     struct {
						Edges []struct{ Node struct{ Status, Text string } }
					}
				}
			}
		}
	}
	admin.mustGQL(`{ prompts(first: 10) { totalCount edges { node { id content stories(first: 10) { edges { node { status text } } } } } } }`, nil, &got)
	if got.Prompts.TotalCount != 1 || got.Prompts.Edges[0].Node.ID != string(prompt) {
		t.Fatalf("the admin's prompts after the upgrade: %+v", got.Prompts)
	}
	seen := map[string]bool{}
	for _, e := range got.Prompts.Edges[0].Node.Stories.Edges {
		seen[e.Node.Status] = true
	}
	for _, status := range statuses {
		if !seen[status] {
			t.Errorf("the admin does not see the %s story from before the upgrade (saw %v)", status, seen)
		}
	}

	other := s.as(s.newUser("second@example.com"))
	var none struct {
		Prompts struct{ TotalCount int }
		Stories struct{ TotalCount int }
	}
	other.mustGQL(`{ prompts { totalCount } stories { totalCount } }`, nil, &none)
	if none.Prompts.TotalCount != 0 || none.Stories.TotalCount != 0 {
		t.Errorf("a second account sees %+v of the first admin's data", none)
	}
}

package main

import (
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database/postgres"
	"github.com/golang-migrate/migrate/v4/source/iofs"

	"github.com/storybot/storybot/internal/database"
	"github.com/storybot/storybot/internal/database/dbtest"
	"github.com/storybot/storybot/internal/pulid"
)

// The last migrations before accounts, and before story pieces.
const (
	beforeAccounts = 20261125154520
	beforePieces   = 20261203171556
)

// migrateTo takes a new Postgres database at dsn to a migration version
// (up or down), as a server of that version would have left it.
func migrateTo(t *testing.T, dsn string, version uint) (*sql.DB, *migrate.Migrate) {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
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
	if err := m.Migrate(version); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		t.Fatalf("migrating to %d: %v", version, err)
	}
	return db, m
}

// TestUpgradeGivesExistingDataToTheFirstAdmin takes a database back to
// before accounts (the down migration), fills it as a server of that time
// would have, with stories in every status, then starts storybot on it: the
// migration applies, the rows wait unowned and hidden, and the first account
// signs up as admin and receives all of them; a later account sees none.
func TestUpgradeGivesExistingDataToTheFirstAdmin(t *testing.T) {
	dsn := dbtest.PostgresURL(t)
	db, _ := migrateTo(t, dsn, beforeAccounts)

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

// TestUpgradeKeepsStoryText takes a database back to before story pieces,
// fills it with stories in every status, two of them running on a replica
// of that version that then went away, and starts storybot on it: every
// story reads as it was stored, resumes from inside its text, and the
// running ones are swept with their text kept. Going back down folds the
// pieces of a story still running into its text.
func TestUpgradeKeepsStoryText(t *testing.T) {
	dsn := dbtest.PostgresURL(t)
	db, m := migrateTo(t, dsn, beforePieces)
	prompt := pulid.New(pulid.PromptPrefix)
	now := time.Now().UTC()
	if _, err := db.Exec(`INSERT INTO prompts (id, created_at, updated_at, content) VALUES ($1, $2, $2, 'A prompt from before pieces')`, string(prompt), now); err != nil {
		t.Fatal(err)
	}
	texts := map[string]string{}
	for i, status := range []string{"PENDING", "GENERATING", "COMPLETED", "FAILED", "CANCELLED"} {
		var lease any
		if status == "PENDING" || status == "GENERATING" {
			lease = now.Add(2 * time.Second) // its replica is gone: the sweeper ends it
		}
		text := fmt.Sprintf("Old %s story: ünïcode, 日本語, עברית.", strings.ToLower(status))
		if status == "PENDING" {
			text = ""
		}
		id := string(pulid.New(pulid.StoryPrefix))
		_, err := db.Exec(`INSERT INTO stories (id, created_at, updated_at, status, text, token_count, model, max_tokens, prompt_id, lease_owner, lease_expires_at)
			VALUES ($1, $2, $2, $3, $4, 3, 'storyteller', 100, $5, $6, $7)`,
			id, now.Add(time.Duration(i)*time.Millisecond), status, text, string(prompt), "old-replica", lease)
		if err != nil {
			t.Fatal(err)
		}
		texts[id] = text
	}

	s := launch(t, map[string]string{"DATABASE_URL": dsn})
	s.token = s.newUser("first@example.com") // receives the stories
	var stale int
	if err := db.QueryRow(`SELECT count(*) FROM stories WHERE text_length <> octet_length(text)`).Scan(&stale); err != nil || stale != 0 {
		t.Errorf("after the migration, %d stories have a text_length that is not their text's (%v)", stale, err)
	}
	for id, text := range texts {
		st := s.waitFor(id, func(st storedStory) bool { return st.Status != "PENDING" && st.Status != "GENERATING" })
		if st.Text != text {
			t.Errorf("story %s (%s) reads %q after the upgrade, was %q", id, st.Status, st.Text, text)
		}
		if text == "" {
			continue
		}
		// Resume from inside the text, as from a cursor given earlier.
		cut := strings.Index(text, "日")
		after := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "c1:%s:%d", id, cut))
		r := opTransports["sse"](t, s, resumeOp(id, after), nil)
		if len(r.errors) > 0 || text[:cut]+r.text() != text {
			t.Errorf("story %s resumed after byte %d: %q, errors %v", id, cut, r.text(), r.errors)
		}
	}

	// Down again with a story running: its pieces go back into its text.
	running := string(pulid.New(pulid.StoryPrefix))
	if _, err := db.Exec(`INSERT INTO stories (id, created_at, updated_at, status, text, text_length, token_count, model, max_tokens, prompt_id, lease_owner, lease_expires_at)
		VALUES ($1, $2, $2, 'GENERATING', 'Begun ', 16, 3, 'storyteller', 100, $3, 'a-replica', $4)`, running, now, string(prompt), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO story_pieces (story_id, start, text, token_count) VALUES ($1, 6, 'then ', 4), ($1, 11, 'more.', 5)`, running); err != nil {
		t.Fatal(err)
	}
	s.stop()
	if err := m.Migrate(beforePieces); err != nil {
		t.Fatalf("migrating down: %v", err)
	}
	var text string
	if err := db.QueryRow(`SELECT text FROM stories WHERE id = $1`, running).Scan(&text); err != nil || text != "Begun then more." {
		t.Errorf("after migrating down, the running story holds %q (%v)", text, err)
	}
}

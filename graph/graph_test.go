package graph_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/storybot/storybot/ent"
	_ "github.com/storybot/storybot/ent/runtime"
	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/graph"
	"github.com/storybot/storybot/internal/broker"
	"github.com/storybot/storybot/internal/database"
	"github.com/storybot/storybot/internal/database/dbtest"
	"github.com/storybot/storybot/internal/llm"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/story"
	"github.com/storybot/storybot/internal/viewer"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// api is a storybot GraphQL handler behind a real HTTP server, on one store,
// called by one signed-in user.
type api struct {
	t    *testing.T
	url  string
	db   *database.DB
	user pulid.ID
}

func newAPI(t *testing.T, db *database.DB) *api {
	t.Helper()
	stories := story.New(db.Client, &llm.Storyteller{}, broker.NewMemory(), story.Config{})
	h := graph.NewHandler(graph.NewSchema(db.Client, stories, nil, nil), graph.HandlerOptions{Introspection: true})
	return serve(t, db, h)
}

// sys is the context of storybot's own work: tests read and write the
// store directly in it.
var sys = viewer.System(context.Background())

// serve serves h to a new user of db, as the accounts middleware would
// after they signed in.
func serve(t *testing.T, db *database.DB, h http.Handler) *api {
	t.Helper()
	u, err := db.Client.User.Create().SetEmail(strings.ToLower(rand.Text()) + "@example.com").Save(sys)
	if err != nil {
		t.Fatal(err)
	}
	a := &api{t: t, db: db, user: u.ID}
	a.url = a.serve(h)
	return a
}

// serve serves h to a's user and returns its URL.
func (a *api) serve(h http.Handler) string {
	v := &viewer.Viewer{UserID: a.user, Role: viewer.RoleUser, Method: viewer.MethodSession}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(viewer.NewContext(r.Context(), v)))
	}))
	a.t.Cleanup(srv.Close)
	return srv.URL
}

// gqlError is one entry of a response's errors.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code returns extensions.code.
func (e gqlError) Code() string { s, _ := e.Extensions["code"].(string); return s }

// do runs one operation, decodes data into out (when not nil) and returns
// the errors.
func (a *api) do(query string, vars map[string]any, out any) []gqlError {
	a.t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		a.t.Fatal(err)
	}
	resp, err := http.Post(a.url, "application/json", bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		a.t.Fatalf("decoding the response (status %d): %v", resp.StatusCode, err)
	}
	if out != nil && len(r.Data) > 0 && string(r.Data) != "null" {
		if err := json.Unmarshal(r.Data, out); err != nil {
			a.t.Fatalf("decoding data %s: %v", r.Data, err)
		}
	}
	return r.Errors
}

// mustDo runs an operation that must succeed.
func (a *api) mustDo(query string, vars map[string]any, out any) {
	a.t.Helper()
	if errs := a.do(query, vars, out); len(errs) > 0 {
		a.t.Fatalf("unexpected errors: %+v", errs)
	}
}

// wantError runs an operation that must fail with one error of the code.
func (a *api) wantError(code, query string, vars map[string]any) gqlError {
	a.t.Helper()
	errs := a.do(query, vars, nil)
	if len(errs) != 1 || errs[0].Code() != code {
		a.t.Fatalf("want one %s error, got %+v", code, errs)
	}
	return errs[0]
}

// createPrompt makes a prompt through the API and returns its ID.
func (a *api) createPrompt(content string) string {
	a.t.Helper()
	var out struct{ CreatePrompt struct{ ID string } }
	a.mustDo(`mutation($c: String!) { createPrompt(input: {content: $c}) { id } }`, map[string]any{"c": content}, &out)
	return out.CreatePrompt.ID
}

// addStory stores a story directly (generation is another package's test).
func (a *api) addStory(promptID string, status entstory.Status, text string) string {
	a.t.Helper()
	s, err := a.db.Client.Story.Create().
		SetUserID(a.user).SetPromptID(pid(promptID)).SetStatus(status).SetText(text).
		SetTokenCount(len(strings.Fields(text))).SetMaxTokens(100).
		Save(sys)
	if err != nil {
		a.t.Fatal(err)
	}
	return string(s.ID)
}

// row is a stored prompt or story, reduced to comparable values.
type row struct {
	ID, Text, Status string
	Updated          time.Time
}

// snapshot returns every prompt and story, to show that a rejected request
// changed nothing.
func (a *api) snapshot() []row {
	a.t.Helper()
	ctx := sys
	prompts, err := a.db.Client.Prompt.Query().Order(ent.Asc("id")).All(ctx)
	if err != nil {
		a.t.Fatal(err)
	}
	stories, err := a.db.Client.Story.Query().Order(ent.Asc("id")).All(ctx)
	if err != nil {
		a.t.Fatal(err)
	}
	var rows []row
	for _, p := range prompts {
		rows = append(rows, row{string(p.ID), p.Content, "", p.UpdatedAt})
	}
	for _, s := range stories {
		rows = append(rows, row{string(s.ID), s.Text, s.Status.String(), s.UpdatedAt})
	}
	return rows
}

// unchanged runs f and fails if the store differs afterwards.
func (a *api) unchanged(f func()) {
	a.t.Helper()
	before := a.snapshot()
	f()
	if diff := cmp.Diff(before, a.snapshot(), cmp.Comparer(sameTime)); diff != "" {
		a.t.Errorf("the store changed (-before +after):\n%s", diff)
	}
}

func sameTime(a, b time.Time) bool { return a.Equal(b) }

func pid(s string) pulid.ID { return pulid.ID(s) }

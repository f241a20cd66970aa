package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storybot/storybot/internal/database/dbtest"
	"github.com/storybot/storybot/internal/telemetry/ecstest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// server is a storybot started by run, as the binary would be.
type server struct {
	t     testing.TB
	base  string // http://host:port
	stop  func() error
	out   *syncBuffer // what it wrote to stdout: its logs
	token string      // the API token requests carry; empty for none
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start runs storybot with env (on a free port, and an embedded database in
// a temporary directory unless env says otherwise) and stops it when t ends.
// Its requests carry an API token of admin@example.com, the first account.
func start(t testing.TB, env map[string]string) *server {
	t.Helper()
	s := launch(t, env)
	s.token = s.newUser("admin@example.com")
	return s
}

// launch runs storybot as start does, with no account: for a second replica
// of the same database, or to test signing up.
func launch(t testing.TB, env map[string]string) *server {
	t.Helper()
	full := map[string]string{
		"STORYBOT_ADDR":     "127.0.0.1:0",
		"STORYBOT_DATA_DIR": t.TempDir(),
		// Tests start many stories from one address; TestAbuseLimits
		// checks the limit itself.
		"STORY_RATE_PER_MINUTE": "0",
		// Likewise for signing up and in, and for stories at once per
		// user; the accounts tests check those limits.
		"SIGNIN_RATE_PER_MINUTE": "0",
		"STORY_USER_MAX_RUNNING": "0",
	}
	for k, v := range env {
		full[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	out := &syncBuffer{}
	go func() {
		done <- run(ctx, nil, func(k string) string { return full[k] }, out, io.Discard, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("storybot did not start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("storybot did not start within 30s")
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("storybot did not stop within 30s")
			return nil
		}
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("run returned %v", err)
		}
		// Every key of every line this server logged is an ECS field or
		// one of storybot's own (storybot.*): each test that starts a
		// server checks the lines its own paths wrote.
		for _, p := range ecstest.CheckOutput(out.String()) {
			t.Errorf("storybot's logs: %s", p)
		}
	})
	return &server{t: t, base: "http://" + addr, stop: stop, out: out}
}

// testPassword is every test account's password.
const testPassword = "correct horse battery staple"

// newUser signs up an account and returns an API token of it. The first
// account of a server is its admin.
func (s *server) newUser(email string) string {
	s.t.Helper()
	anon := s.as("")
	body, _ := json.Marshal(map[string]any{
		"query":     `mutation($in: SignUpInput!) { signUp(input: $in) { id } }`,
		"variables": map[string]any{"in": map[string]any{"email": email, "password": testPassword}},
	})
	resp, raw := anon.post("/graphql", "application/json", string(body))
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "storybot_session" {
			session = c
		}
	}
	if session == nil {
		s.t.Fatalf("signUp set no session cookie: %s", raw)
	}
	body, _ = json.Marshal(map[string]any{"query": `mutation { createApiToken(input: {name: "tests"}) { token } }`})
	req, _ := http.NewRequest(http.MethodPost, s.base+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(session)
	_, raw = anon.send(req)
	var out struct {
		Data struct{ CreateAPIToken struct{ Token string } } `json:"data"`
	}
	if err := json.Unmarshal([]byte(raw), &out); err != nil || out.Data.CreateAPIToken.Token == "" {
		s.t.Fatalf("createApiToken: %v %s", err, raw)
	}
	return out.Data.CreateAPIToken.Token
}

// as returns s making requests with token (none when empty).
func (s *server) as(token string) *server {
	c := *s
	c.token = token
	return &c
}

// authHeader returns the header that carries s's token.
func (s *server) authHeader() http.Header {
	h := http.Header{}
	if s.token != "" {
		h.Set("Authorization", "Bearer "+s.token)
	}
	return h
}

func (s *server) get(path string, header http.Header) (*http.Response, string) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.base+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return s.send(req)
}

func (s *server) post(path, contentType, body string) (*http.Response, string) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	return s.send(req)
}

func (s *server) send(req *http.Request) (*http.Response, string) {
	s.t.Helper()
	if req.Header.Get("Authorization") == "" && req.Header.Get("Cookie") == "" && s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp, string(b)
}

func TestServeEndpoints(t *testing.T) {
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := map[string]string{}
			if dialect == "postgres" {
				env["DATABASE_URL"] = dbtest.PostgresURL(t)
			}
			s := start(t, env)

			if resp, body := s.get("/healthz", nil); resp.StatusCode != 200 || body != "ok\n" {
				t.Errorf("/healthz: %d %q", resp.StatusCode, body)
			}
			if resp, body := s.get("/readyz", nil); resp.StatusCode != 200 {
				t.Errorf("/readyz: %d %q", resp.StatusCode, body)
			}
			if resp, body := s.get("/", nil); resp.StatusCode != 200 || !strings.Contains(body, "storybot") {
				t.Errorf("/: %d %q", resp.StatusCode, body)
			}

			resp, body := s.post("/graphql", "application/json",
				`{"query":"mutation { createPrompt(input: {content: \"A fox who collects keys\"}) { id content } }"}`)
			if resp.StatusCode != 200 || !strings.Contains(body, `"content":"A fox who collects keys"`) {
				t.Fatalf("createPrompt: %d %s", resp.StatusCode, body)
			}

			q := url.Values{"query": {"{ prompts(first: 5) { totalCount edges { node { content } } } }"}}
			resp, body = s.get("/graphql?"+q.Encode(), http.Header{"Accept": {"application/graphql-response+json"}})
			if resp.StatusCode != 200 || !strings.Contains(body, `"totalCount":1`) {
				t.Errorf("GET query: %d %s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/graphql-response+json") {
				t.Errorf("GET query Content-Type %q, want application/graphql-response+json", ct)
			}

			m := url.Values{"query": {`mutation { createPrompt(input: {content: "by GET"}) { id } }`}}
			resp, body = s.get("/graphql?"+m.Encode(), nil)
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("GET mutation: %d %s, want 405", resp.StatusCode, body)
			}
			_, body = s.post("/graphql", "application/json", `{"query":"{ prompts { totalCount } }"}`)
			if !strings.Contains(body, `"totalCount":1`) {
				t.Errorf("the GET mutation wrote something: %s", body)
			}
		})
	}
}

func TestReadyzReportsADeadDatabase(t *testing.T) {
	dsn := dbtest.PostgresURL(t)
	s := start(t, map[string]string{"DATABASE_URL": dsn})
	if resp, _ := s.get("/readyz", nil); resp.StatusCode != 200 {
		t.Fatalf("/readyz before: %d", resp.StatusCode)
	}
	admin, err := sql.Open("postgres", dbtest.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	u, _ := url.Parse(dsn)
	if _, err := admin.Exec("DROP DATABASE " + strings.TrimPrefix(u.Path, "/") + " WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}
	resp, body := s.get("/readyz", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(body, "postgres://") {
		t.Errorf("/readyz after the database went away: %d %q, want 503 without details", resp.StatusCode, body)
	}
	if resp, _ := s.get("/healthz", nil); resp.StatusCode != 200 {
		t.Errorf("/healthz must stay up while the database is away: %d", resp.StatusCode)
	}
}

func TestMigrateCommand(t *testing.T) {
	admin, err := sql.Open("postgres", dbtest.ServerURL())
	if err == nil {
		err = admin.Ping()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	defer admin.Close()
	name := "storybot_migrate_" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec("DROP DATABASE " + name + " WITH (FORCE)") })
	u, _ := url.Parse(dbtest.ServerURL())
	u.Path = "/" + name
	env := map[string]string{"DATABASE_URL": u.String()}
	if err := run(context.Background(), []string{"migrate"}, func(k string) string { return env[k] }, io.Discard, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables int
	if err := db.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_name IN ('prompts', 'stories')`).Scan(&tables); err != nil || tables != 2 {
		t.Errorf("after migrate: %d tables (%v), want prompts and stories", tables, err)
	}
}

func TestBadConfigurationFailsAtStart(t *testing.T) {
	for _, env := range []map[string]string{
		{"STORYBOT_ENV": "staging"},
		{"STORYBOT_SHUTDOWN_TIMEOUT": "soon"},
		{"DATABASE_URL": "mysql://localhost/db"},
	} {
		err := run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard, io.Discard, nil)
		if err == nil {
			t.Errorf("run with %v started", env)
		}
	}
}

// TestGraphQLHTTPAudit runs the graphql-http audit suite (npm graphql-http,
// serverAudits) against the real server: every MUST has to pass.
func TestGraphQLHTTPAudit(t *testing.T) {
	dir := filepath.Join("graph", "testdata", "audit")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "graphql-http")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("graphql-http is not installed (run `make test`, which runs npm ci in %s): %v", dir, err)
		}
		t.Skipf("graphql-http is not installed; run npm ci in %s", dir)
	}
	s := start(t, map[string]string{"DATABASE_URL": dbtest.PostgresURL(t)})
	out, err := exec.Command("node", filepath.Join(dir, "audit.mjs"), s.base+"/graphql").CombinedOutput()
	var failed []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r struct{ Name, Status, Reason string }
		if json.Unmarshal([]byte(line), &r) == nil && strings.HasPrefix(r.Name, "MUST") && r.Status != "ok" {
			failed = append(failed, r.Name+": "+r.Reason)
		}
	}
	if err != nil || len(failed) > 0 {
		t.Errorf("graphql-http audit: %v\n%s\n%s", err, strings.Join(failed, "\n"), out)
	}
}

// TestTraceIDs checks the promise of the README's curl -H 'X-Trace-Id: abc':
// the ID comes back in the header and the extensions and is in the log
// lines, also for errors, and a story remembers the request that started it.
func TestTraceIDs(t *testing.T) {
	s := start(t, map[string]string{"STORYTELLER_TOKENS_PER_SECOND": "0"})
	send := func(traceID, body string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, s.base+"/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if traceID != "" {
			req.Header.Set("X-Trace-Id", traceID)
		}
		resp, raw := s.send(req)
		var r map[string]any
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		return resp, r
	}
	extID := func(r map[string]any) string {
		ext, _ := r["extensions"].(map[string]any)
		id, _ := ext["traceId"].(string)
		return id
	}

	resp, r := send("abc", `{"query":"mutation { createPrompt(input: {content: \"traced\"}) { id } }"}`)
	if resp.Header.Get("X-Trace-Id") != "abc" || extID(r) != "abc" {
		t.Errorf("kept ID: header %q, extensions %q", resp.Header.Get("X-Trace-Id"), extID(r))
	}
	promptID := r["data"].(map[string]any)["createPrompt"].(map[string]any)["id"].(string)

	resp, r = send("bad id with spaces", `{"query":"{ node(id: \"nope\") { id } }"}`)
	got := resp.Header.Get("X-Trace-Id")
	if got == "" || strings.Contains(got, " ") || extID(r) != got {
		t.Errorf("replaced ID: header %q, extensions %q", got, extID(r))
	}

	_, r = send("story-trace-1", `{"query":"mutation { generateStory(input: {promptID: \"`+promptID+`\"}) { id } }"}`)
	storyID := r["data"].(map[string]any)["generateStory"].(map[string]any)["id"].(string)
	var out struct{ Node struct{ TraceID string } }
	s.mustGQL(`query($id: ID!) { node(id: $id) { ... on Story { traceID } } }`, map[string]any{"id": storyID}, &out)
	if out.Node.TraceID != "story-trace-1" {
		t.Errorf("story traceID = %q", out.Node.TraceID)
	}

	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(s.out.String(), `"trace.id":"abc"`) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(s.out.String(), `"trace.id":"abc"`) {
		t.Errorf("no log line carries trace.id abc:\n%s", s.out.String())
	}
	if strings.Contains(s.out.String(), "bad id with spaces") {
		t.Error("an invalid trace ID was echoed into the logs")
	}
}

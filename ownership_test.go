package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/storybot/storybot/internal/database/dbtest"
)

// TestOwnership is the ownership matrix of issue 12: another user (a plain
// one, and an admin) and an anonymous caller try every root field of the
// schema, found by introspection, on two owners' objects (an admin's and a
// plain user's), over HTTP, SSE and both websocket subprotocols. Nothing of
// the owners may come back, every field that takes one of their IDs must
// answer NOT_FOUND (node and nodes: null), and the owners' objects must be
// as they were afterwards. A root field the walk does not know how to judge
// fails the test, so a new field cannot slip through untested.
func TestOwnership(t *testing.T) {
	env := map[string]string{
		// Slow enough that the running story runs through the walk.
		"STORYTELLER_TOKENS_PER_SECOND": "8",
		// The intruding admin: not the server's first account, and owner
		// of nothing.
		"STORYBOT_ADMIN_EMAILS": "root@example.com",
	}
	// One server, on Postgres when there is one (always under CI, where
	// dbtest fails without it), else on SQLite: the privacy policies are
	// the same on both, and the walk is long enough once.
	if ownPostgresReachable() || os.Getenv("CI") == "true" {
		env["DATABASE_URL"] = dbtest.PostgresURL(t)
	}
	testOwnership(t, start(t, env))
}

func ownPostgresReachable() bool {
	db, err := sql.Open("postgres", dbtest.ServerURL())
	if err != nil {
		return false
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return db.PingContext(ctx) == nil
}

func testOwnership(t *testing.T, s *server) {
	m := &ownMatrix{s: s}
	m.schema = ownIntrospect(t, s)
	m.public = ownPublicFields(t)
	for _, f := range m.schema.rootFields() {
		if _, ok := m.public[f.path]; !ok {
			t.Errorf("introspection has %s, which graph/*.graphqls does not define", f.path)
		}
	}
	if len(m.public) != len(m.schema.rootFields()) {
		t.Errorf("graph/*.graphqls defines %d root fields, introspection shows %d", len(m.public), len(m.schema.rootFields()))
	}
	m.plan(t) // fails on root fields the matrix cannot judge
	if t.Failed() {
		t.FailNow()
	}

	m.owners = []*ownOwner{
		newOwner(t, s, "admin", s.token), // the server's first account: an admin
		newOwner(t, s, "alice", s.newUser("alice@example.com")),
	}
	for _, o := range m.owners {
		o.settle(t, s)
	}
	m.intruders = []*ownPrincipal{
		m.principal(t, "bob", s.newUser("bob@example.com")),
		m.principal(t, "root", s.newUser("root@example.com")),
		{name: "anonymous"},
	}
	if o := m.owners[0]; o.role != "ADMIN" {
		t.Fatalf("the first account is %s, want ADMIN", o.role)
	}
	if o := m.owners[1]; o.role != "USER" {
		t.Fatalf("alice is %s, want USER", o.role)
	}
	if p := m.intruders[0]; p.admin {
		t.Fatal("bob is an admin; want a plain user")
	}
	if p := m.intruders[1]; !p.admin {
		t.Fatal("root is not an admin (STORYBOT_ADMIN_EMAILS)")
	}

	t.Run("walk", func(t *testing.T) {
		// All walks at once: they wait on the server far more than they
		// compute, more than t.Parallel's GOMAXPROCS would run together.
		var wg sync.WaitGroup
		for _, who := range m.intruders {
			for _, transport := range ownTransports {
				wg.Go(func() { m.walk(t, who, transport) })
			}
		}
		wg.Wait()
	})
	t.Run("intruders stored nothing", func(t *testing.T) {
		for _, who := range m.accounts() {
			var out struct{ Stories struct{ TotalCount int } }
			ownIn(s, t).as(who.token).mustGQL(`{ stories { totalCount } }`, nil, &out)
			if out.Stories.TotalCount != 0 {
				t.Errorf("%s has %d stories after the walk: generateStory accepted another user's prompt", who.name, out.Stories.TotalCount)
			}
		}
	})
	t.Run("storyStream", func(t *testing.T) { m.streams(t) })
	t.Run("share tokens", func(t *testing.T) { m.shareTokens(t) })
	t.Run("anonymous websocket", func(t *testing.T) { m.anonymousWebsocket(t) })
	t.Run("owners unchanged", func(t *testing.T) {
		for _, o := range m.owners {
			o.checkUnchanged(t, s)
		}
	})
}

// ownTransports are the ways an operation reaches the server.
var ownTransports = []string{"http", "sse", "graphql-transport-ws", "graphql-ws"}

// ownIn returns s reporting to t, for its helpers to be used in a subtest.
func ownIn(s *server, t testing.TB) *server {
	c := *s
	c.t = t
	return &c
}

// ownPrincipal is who makes the requests of a walk.
type ownPrincipal struct {
	name   string
	token  string // "" for anonymous
	admin  bool
	userID string
}

func (p *ownPrincipal) anonymous() bool { return p.token == "" }

func (m *ownMatrix) principal(t *testing.T, name, token string) *ownPrincipal {
	var v struct{ Viewer struct{ ID, Role string } }
	ownIn(m.s, t).as(token).mustGQL(`{ viewer { id role } }`, nil, &v)
	return &ownPrincipal{name: name, token: token, admin: v.Viewer.Role == "ADMIN", userID: v.Viewer.ID}
}

// ownOwner is a user whose objects the others try to reach.
type ownOwner struct {
	name, token   string
	userID, email string
	role          string
	limit         *int // usage.dailyTokenLimit
	promptID      string
	content       string // the prompt's
	finished      storedStory
	running       storedStory // as it was when set up, already GENERATING
	tokenID       string      // of the API token created for the matrix
	tokenName     string
	tokenSecret   string
	tokenIDs      []string // every API token of the owner
}

// newOwner gives an account a prompt, two stories (settle waits for one to
// finish and the other to run) and an API token; nothing is shared.
func newOwner(t *testing.T, s *server, name, token string) *ownOwner {
	t.Helper()
	c := ownIn(s, t).as(token)
	o := &ownOwner{name: name, token: token}
	var v struct {
		Viewer struct {
			ID, Email, Role string
			Usage           struct{ DailyTokenLimit *int }
		}
	}
	c.mustGQL(`{ viewer { id email role usage { dailyTokenLimit } } }`, nil, &v)
	o.userID, o.email, o.role, o.limit = v.Viewer.ID, v.Viewer.Email, v.Viewer.Role, v.Viewer.Usage.DailyTokenLimit

	o.content = "The lantern of " + o.marker() + " under the frozen harbour"
	var p struct{ CreatePrompt struct{ ID string } }
	c.mustGQL(`mutation($c: String!) { createPrompt(input: {content: $c}) { id } }`, map[string]any{"c": o.content}, &p)
	o.promptID = p.CreatePrompt.ID
	generate := func(maxTokens int) string {
		var g struct{ GenerateStory struct{ ID string } }
		c.mustGQL(`mutation($p: ID!, $n: Int) { generateStory(input: {promptID: $p, maxTokens: $n}) { id } }`,
			map[string]any{"p": o.promptID, "n": maxTokens}, &g)
		return g.GenerateStory.ID
	}
	o.finished.ID = generate(12)
	o.running.ID = generate(4096)

	o.tokenName = "matrix token of " + o.marker()
	var tok struct {
		CreateAPIToken struct {
			Token    string
			APIToken struct{ ID string }
		}
	}
	c.mustGQL(`mutation($n: String!) { createApiToken(input: {name: $n}) { token apiToken { id } } }`, map[string]any{"n": o.tokenName}, &tok)
	o.tokenID, o.tokenSecret = tok.CreateAPIToken.APIToken.ID, tok.CreateAPIToken.Token
	var list struct{ APITokens []struct{ ID string } }
	c.mustGQL(`{ apiTokens { id } }`, nil, &list)
	for _, tk := range list.APITokens {
		o.tokenIDs = append(o.tokenIDs, tk.ID)
	}
	return o
}

// settle waits for the owner's first story to finish and the second to
// have some text, and keeps them as they are then.
func (o *ownOwner) settle(t *testing.T, s *server) {
	c := ownIn(s, t).as(o.token)
	o.finished = c.waitFor(o.finished.ID, func(st storedStory) bool { return st.Status == "COMPLETED" })
	o.running = c.waitFor(o.running.ID, func(st storedStory) bool { return len(st.Text) >= 30 })
	if o.running.Status != "GENERATING" {
		t.Fatalf("%s's running story is %s already", o.name, o.running.Status)
	}
}

// marker is a word found nowhere but in this owner's prompt (and the
// stories written from it).
func (o *ownOwner) marker() string { return "Zanthrope" + strings.ToUpper(o.name[:1]) + o.name[1:] }

// ids are the owner's object IDs the walk passes in arguments, one of each
// type, each with what it is.
func (o *ownOwner) ids() []ownSecret {
	return []ownSecret{
		{o.name + "'s user ID", o.userID, true},
		{o.name + "'s prompt", o.promptID, false},
		{o.name + "'s finished story", o.finished.ID, false},
		{o.name + "'s running story", o.running.ID, false},
		{o.name + "'s API token", o.tokenID, false},
	}
}

// secrets is everything of the owner no one else may see.
func (o *ownOwner) secrets() []ownSecret {
	secrets := o.ids()
	for _, id := range o.tokenIDs {
		if id != o.tokenID {
			secrets = append(secrets, ownSecret{o.name + "'s other API token", id, false})
		}
	}
	return append(secrets,
		ownSecret{o.name + "'s email", o.email, true},
		ownSecret{o.name + "'s prompt content", o.content, false},
		ownSecret{o.name + "'s marker word (prompt and story text)", o.marker(), false},
		ownSecret{o.name + "'s finished story text", o.finished.Text, false},
		ownSecret{o.name + "'s running story text", o.running.Text, false},
		ownSecret{o.name + "'s API token name", o.tokenName, false},
		ownSecret{o.name + "'s API token secret", o.tokenSecret, false},
		ownSecret{o.name + "'s test API token secret", o.token, false},
	)
}

// checkUnchanged re-reads the owner's objects as the owner after the walk,
// then cancels the running story (which only its owner may do).
func (o *ownOwner) checkUnchanged(t *testing.T, s *server) {
	c := ownIn(s, t).as(o.token)
	var out struct {
		Viewer struct {
			ID, Email string
			Usage     struct{ DailyTokenLimit *int }
		}
		Prompt struct {
			ID, Content string
			Stories     struct{ TotalCount int }
		}
		Prompts struct{ TotalCount int }
		Stories struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					ID, Status, Text string
					ShareToken       *string
				}
			}
		}
		APITokens []struct {
			ID, Name  string
			RevokedAt *string
		}
	}
	c.mustGQL(`query($p: ID!) {
		viewer { id email usage { dailyTokenLimit } }
		prompt: node(id: $p) { ... on Prompt { id content stories { totalCount } } }
		prompts { totalCount }
		stories(first: 100) { totalCount edges { node { id status text shareToken } } }
		apiTokens { id name revokedAt }
	}`, map[string]any{"p": o.promptID}, &out)
	if out.Viewer.ID != o.userID || out.Viewer.Email != o.email {
		t.Errorf("%s's account is now %+v", o.name, out.Viewer)
	}
	if got, want := fmt.Sprint(ownDeref(out.Viewer.Usage.DailyTokenLimit)), fmt.Sprint(ownDeref(o.limit)); got != want {
		t.Errorf("%s's daily token limit changed from %s to %s", o.name, want, got)
	}
	if out.Prompt.ID != o.promptID || out.Prompt.Content != o.content || out.Prompt.Stories.TotalCount != 2 {
		t.Errorf("%s's prompt: %+v, want %s %q with 2 stories", o.name, out.Prompt, o.promptID, o.content)
	}
	if out.Prompts.TotalCount != 1 || out.Stories.TotalCount != 2 {
		t.Errorf("%s has %d prompts and %d stories, want 1 and 2", o.name, out.Prompts.TotalCount, out.Stories.TotalCount)
	}
	stories := map[string]int{}
	for i, e := range out.Stories.Edges {
		stories[e.Node.ID] = i
		if e.Node.ShareToken != nil {
			t.Errorf("%s's story %s is shared now", o.name, e.Node.ID)
		}
	}
	if i, ok := stories[o.finished.ID]; !ok {
		t.Errorf("%s's finished story is gone", o.name)
	} else if st := out.Stories.Edges[i].Node; st.Status != "COMPLETED" || st.Text != o.finished.Text {
		t.Errorf("%s's finished story is now %s %q, was COMPLETED %q", o.name, st.Status, st.Text, o.finished.Text)
	}
	if i, ok := stories[o.running.ID]; !ok {
		t.Errorf("%s's running story is gone", o.name)
	} else if st := out.Stories.Edges[i].Node; (st.Status != "GENERATING" && st.Status != "COMPLETED") || !strings.HasPrefix(st.Text, o.running.Text) {
		t.Errorf("%s's running story is now %s with %q; it was GENERATING with %q", o.name, st.Status, st.Text, o.running.Text)
	}
	var found bool
	for _, tk := range out.APITokens {
		if tk.ID == o.tokenID {
			found = true
			if tk.RevokedAt != nil || tk.Name != o.tokenName {
				t.Errorf("%s's API token is now %+v", o.name, tk)
			}
		}
	}
	if !found {
		t.Errorf("%s's API token %s is gone", o.name, o.tokenID)
	}
	var v struct{ Viewer struct{ ID string } }
	c.as(o.tokenSecret).mustGQL(`{ viewer { id } }`, nil, &v)
	if v.Viewer.ID != o.userID {
		t.Errorf("%s's API token no longer signs %s in: viewer %q", o.name, o.name, v.Viewer.ID)
	}

	var cancel struct{ CancelStory struct{ Status string } }
	errs := c.gql(`mutation($id: ID!) { cancelStory(id: $id) { status } }`, map[string]any{"id": o.running.ID}, &cancel)
	if len(errs) > 0 && c.story(o.running.ID).Status != "COMPLETED" {
		t.Errorf("%s could not cancel their own running story: %+v", o.name, errs)
	}
}

func ownDeref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// ownSecret is something of an owner that must not reach anyone else.
type ownSecret struct {
	label, value string
	// identity marks a user ID or email, which an admin may see in users
	// and in what setDailyTokenLimit returns.
	identity bool
}

// ownMatrix is the state of the walk.
type ownMatrix struct {
	s         *server
	owners    []*ownOwner
	intruders []*ownPrincipal
	schema    *ownSchema
	public    map[string]bool // root field path -> marked @public
	emails    atomic.Int64    // for fresh accounts
}

func (m *ownMatrix) secrets() []ownSecret {
	var all []ownSecret
	for _, o := range m.owners {
		all = append(all, o.secrets()...)
	}
	return all
}

// accounts are the intruders who have one.
func (m *ownMatrix) accounts() []*ownPrincipal {
	var signedIn []*ownPrincipal
	for _, p := range m.intruders {
		if !p.anonymous() {
			signedIn = append(signedIn, p)
		}
	}
	return signedIn
}

func (m *ownMatrix) ids() []ownSecret {
	var all []ownSecret
	for _, o := range m.owners {
		all = append(all, o.ids()...)
	}
	return all
}

// ---------------------------------------------------------------------------
// What each root field must answer.

// ownAdminOnly are the root fields that take an ID and only admins may use:
// a plain user gets FORBIDDEN (it reveals nothing), an admin may use them on
// any account.
var ownAdminOnly = map[string]bool{
	"Mutation.setDailyTokenLimit": true,
}

// ownRule judges a root field that takes no ID of the owners: what it
// answers instead of NOT_FOUND. args, when set, gives the arguments of the
// calls to make (one call per map; the rest are derived from the types).
type ownRule struct {
	args  func(m *ownMatrix, who *ownPrincipal, transport string) []map[string]any
	check func(c *ownCheck)
}

// ownRules is the allow-list: every root field that takes no ID is here.
// Anonymous callers get UNAUTHENTICATED for every field not marked @public
// before these rules apply.
var ownRules = map[string]ownRule{
	"Query.viewer": {check: func(c *ownCheck) {
		c.wantNoErrors()
		var v *struct{ ID string }
		c.decode(&v)
		switch {
		case c.who.anonymous() && v != nil:
			c.errorf("viewer is %+v, want null", v)
		case !c.who.anonymous() && (v == nil || v.ID != c.who.userID):
			c.errorf("viewer is %+v, want %s", v, c.who.userID)
		}
	}},
	"Query.models": {check: func(c *ownCheck) {
		c.wantNoErrors()
		var models []string
		if c.decode(&models); len(models) == 0 {
			c.errorf("no models")
		}
	}},
	"Query.sharedStory": {
		args: func(*ownMatrix, *ownPrincipal, string) []map[string]any {
			return []map[string]any{{"token": "x"}, {"token": "sbl_" + strings.Repeat("A", 43)}}
		},
		check: func(c *ownCheck) { c.wantNoErrors(); c.wantNull() },
	},
	"Query.apiTokens":       {check: func(c *ownCheck) { c.wantNoErrors() }},
	"Query.prompts":         {check: (*ownCheck).wantConnection},
	"Query.stories":         {check: (*ownCheck).wantConnection},
	"Query.users":           {check: adminOnly(func(c *ownCheck) { c.wantNoErrors() })},
	"Mutation.createPrompt": {check: func(c *ownCheck) { c.wantNoErrors() }},
	"Mutation.createApiToken": {check: func(c *ownCheck) {
		c.wantNoErrors()
	}},
	"Mutation.createUser": {
		args: freshAccount(true),
		check: adminOnly(func(c *ownCheck) {
			if !ownHashes(c.who, c.transport, true) {
				c.wantCodes("BAD_USER_INPUT") // the malformed email
				return
			}
			c.wantNoErrors()
			c.wantEmail(c.call.vars["input"].(map[string]any)["email"].(string))
		}),
	},
	"Mutation.signUp": {
		args: freshAccount(false),
		check: func(c *ownCheck) {
			// The malformed email, or over a websocket, no way to carry
			// the session cookie back.
			if !ownHashes(c.who, c.transport, false) || strings.HasSuffix(c.transport, "ws") {
				c.wantCodes("BAD_USER_INPUT")
				return
			}
			c.wantNoErrors()
			c.wantEmail(c.call.vars["input"].(map[string]any)["email"].(string))
		},
	},
	"Mutation.signIn": {
		// An owner's email with a wrong password, or an email too long to
		// be anyone's.
		args: func(m *ownMatrix, who *ownPrincipal, transport string) []map[string]any {
			email := strings.Repeat("x", 300) + "@example.com"
			if ownHashes(who, transport, false) {
				email = m.owners[1].email
			}
			return []map[string]any{{"input": map[string]any{"email": email, "password": "not " + testPassword}}}
		},
		check: func(c *ownCheck) {
			if strings.HasSuffix(c.transport, "ws") {
				c.wantCodes("BAD_USER_INPUT") // no cookie over a websocket
				return
			}
			c.wantCodes("UNAUTHENTICATED")
		},
	},
	"Mutation.signOut": {check: func(c *ownCheck) {
		c.wantNoErrors()
		var ok bool
		if c.decode(&ok); !ok {
			c.errorf("signOut answered false")
		}
	}},
}

// ownHashes says whether signUp, signIn (admin false) or createUser
// (admin true) go all the way for who over transport. Each computes an
// argon2 password hash, which takes seconds under -race, so only the
// callers who would use them do, over HTTP: anonymous callers sign up and
// in, admins create accounts. The others are refused before any hash (a
// malformed email), which still shows what the field answers them.
func ownHashes(who *ownPrincipal, transport string, admin bool) bool {
	return transport == "http" && (admin || who.anonymous())
}

// freshAccount gives signUp (admin false) or createUser (admin true) an
// unused email, or a malformed one (ownHashes).
func freshAccount(admin bool) func(m *ownMatrix, who *ownPrincipal, transport string) []map[string]any {
	return func(m *ownMatrix, who *ownPrincipal, transport string) []map[string]any {
		email := fmt.Sprintf("fresh-%s-%s-%d@example.com", who.name, transport, m.emails.Add(1))
		if !ownHashes(who, transport, admin) || (!admin && strings.HasSuffix(transport, "ws")) {
			email = "not an email"
		}
		return []map[string]any{{"input": map[string]any{"email": email, "password": testPassword}}}
	}
}

// adminOnly wraps the check of a field for admins: anyone else gets
// FORBIDDEN. An admin may see the accounts' IDs and emails.
func adminOnly(check func(c *ownCheck)) func(c *ownCheck) {
	return func(c *ownCheck) {
		if !c.who.admin {
			c.wantCodes("FORBIDDEN")
			return
		}
		c.allowIdentities = true
		check(c)
	}
}

// judgeID judges a field that took one of the owners' IDs.
func (c *ownCheck) judgeID() {
	path := c.call.field.path
	switch {
	case c.who.anonymous():
		c.wantUnauthenticated()
	case ownAdminOnly[path] && !c.who.admin:
		c.wantCodes("FORBIDDEN")
	case ownAdminOnly[path] && strings.HasPrefix(c.call.id.value, "us_"):
		// An admin manages any account.
		c.allowIdentities = true
		c.wantNoErrors()
	case path == "Query.node" || path == "Query.nodes":
		// node: null. nodes: [null], or (Ent answers a single ID as node
		// does) an error in place of the list.
		var nodes []any
		if path == "Query.node" {
			var n any
			c.decode(&n)
			nodes = []any{n}
		} else if c.decode(&nodes); nodes == nil && len(c.errors()) == 0 {
			c.errorf("nodes is null without an error")
		} else if nodes != nil && len(nodes) != 1 {
			c.errorf("nodes gave %d entries for 1 ID", len(nodes))
		}
		for _, n := range nodes {
			if n != nil {
				c.errorf("%s is %v, want null", c.call.field.name, n)
			}
		}
		// Only prompts and stories are looked up by node; other IDs are
		// refused by their prefix alone, which reveals nothing.
		allowed := []string{"NOT_FOUND"}
		if !strings.HasPrefix(c.call.id.value, "pr_") && !strings.HasPrefix(c.call.id.value, "st_") {
			allowed = append(allowed, "BAD_USER_INPUT")
		}
		c.codesIn(allowed...)
	default:
		c.wantCodes("NOT_FOUND")
	}
}

// wantUnauthenticated wants UNAUTHENTICATED, which a websocket sends as an
// `error` message (the contract says so).
func (c *ownCheck) wantUnauthenticated() {
	c.wantCodes("UNAUTHENTICATED")
	if strings.HasSuffix(c.transport, "ws") && !c.out.wsError {
		c.errorf("UNAUTHENTICATED did not come as an `error` message")
	}
}

// ownGhost is an ID of the same type as id that names nothing.
func ownGhost(id string) string {
	prefix, _, _ := strings.Cut(id, "_")
	return prefix + "_01JDQ3K8Z6V4X0M2T5R7N9B1C3"
}

// ownShape is an answer with the ID it was about replaced, to compare
// answers about different IDs.
func ownShape(o ownOutcome, id string) string {
	var lines []string
	if o.wsError {
		lines = append(lines, "(an `error` message)")
	}
	if o.failure != "" {
		lines = append(lines, "failure: "+o.failure)
	}
	for _, p := range o.payloads {
		data := string(p.Data)
		if data == "" {
			data = "null"
		}
		lines = append(lines, "data: "+strings.ReplaceAll(data, id, "<ID>"))
		var errs []string
		for _, e := range p.Errors {
			code, _ := e.Extensions["code"].(string)
			errs = append(errs, fmt.Sprintf("error: %s %q", code, strings.ReplaceAll(e.Message, id, "<ID>")))
		}
		sort.Strings(errs)
		lines = append(lines, errs...)
	}
	return strings.Join(lines, "\n\t\t")
}

// ---------------------------------------------------------------------------
// The plan: calls for every root field.

// ownCall is one operation of the walk.
type ownCall struct {
	field ownRoot
	op    string // query, mutation or subscription
	query string
	vars  map[string]any
	id    ownSecret // the owner's ID it carries, if any
	rule  *ownRule  // nil for fields judged by judgeID
}

func (c ownCall) String() string {
	args, _ := json.Marshal(c.vars)
	s := c.field.path + " " + string(args)
	if c.id.value != "" {
		s += " (" + c.id.label + ")"
	}
	return s
}

// plan checks that the matrix knows how to judge every root field.
func (m *ownMatrix) plan(t *testing.T) {
	known := map[string]bool{}
	for _, f := range m.schema.rootFields() {
		known[f.path] = true
		_, ruled := ownRules[f.path]
		takesID := m.schema.takesID(f.field)
		switch {
		case takesID && ruled:
			t.Errorf("%s takes an ID but has a rule in ownRules: judge it as NOT_FOUND (drop the rule) or say why not", f.path)
		case !takesID && !ruled:
			t.Errorf("the ownership matrix cannot judge %s: it takes no ID. Add what it must answer another user to ownRules in ownership_test.go", f.path)
		}
		if ownAdminOnly[f.path] && !takesID {
			t.Errorf("%s is in ownAdminOnly but takes no ID", f.path)
		}
	}
	for path := range ownRules {
		if !known[path] {
			t.Errorf("ownRules has %s, which the schema no longer has", path)
		}
	}
	for path := range ownAdminOnly {
		if !known[path] {
			t.Errorf("ownAdminOnly has %s, which the schema no longer has", path)
		}
	}
}

// calls builds the operations of one walk.
func (m *ownMatrix) calls(who *ownPrincipal, transport string) []ownCall {
	var calls []ownCall
	for _, f := range m.schema.rootFields() {
		if rule, ok := ownRules[f.path]; ok {
			overrides := []map[string]any{nil}
			if rule.args != nil {
				overrides = rule.args(m, who, transport)
			}
			for _, o := range overrides {
				calls = append(calls, m.schema.call(f, ownSecret{}, false, o, &rule))
				// The same with the owners' IDs in the optional arguments
				// that take one (a where: {id: ...} filter).
				if m.schema.takesOptionalID(f.field) {
					for _, id := range m.ids() {
						calls = append(calls, m.schema.call(f, id, true, o, &rule))
					}
				}
			}
			continue
		}
		for _, id := range m.ids() {
			calls = append(calls, m.schema.call(f, id, false, nil, nil))
		}
	}
	return calls
}

// walk makes every call as who over transport and judges the answers. It
// reports with t.Errorf only, so it may run in a goroutine of its own.
func (m *ownMatrix) walk(t *testing.T, who *ownPrincipal, transport string) {
	r := &ownRunner{s: m.s, token: who.token, transport: transport}
	defer r.close()
	secrets := m.secrets()
	for _, call := range m.calls(who, transport) {
		out := r.run(call)
		c := &ownCheck{m: m, who: who, transport: transport, call: call, out: out}
		switch {
		case out.failure != "":
			c.errorf("%s", out.failure)
		case len(out.payloads) == 0:
			c.errorf("no answer")
		case who.anonymous() && !m.public[call.field.path]:
			c.wantUnauthenticated()
		case call.rule != nil:
			call.rule.check(c)
		default:
			c.judgeID()
		}
		c.checkLeaks(secrets)
		// Refused, the owner's ID must get the very answer an ID that
		// names nothing gets: anything else tells that the object exists.
		// (Over one plain and one websocket transport: what the server
		// answers does not depend on the transport, and the checks above
		// run over all four.)
		ghosts := transport == "http" || transport == "graphql-transport-ws"
		if ghosts && call.id.value != "" && !who.anonymous() && !c.allowIdentities && out.failure == "" {
			ghost := ownGhost(call.id.value)
			g := call
			g.vars = nil // a copy, not the call's own map
			b, _ := json.Marshal(call.vars)
			json.Unmarshal([]byte(strings.ReplaceAll(string(b), call.id.value, ghost)), &g.vars)
			got, nothing := ownShape(out, call.id.value), ownShape(r.run(g), ghost)
			if got != nothing {
				c.errorf("REVEALS EXISTENCE: the answer differs from the one for %s, which names nothing:\n\t\t%s\n\tfor the ID that names nothing:\n\t\t%s", ghost, got, nothing)
			}
		}
		c.report(t)
	}
}

// ---------------------------------------------------------------------------
// Judging one answer.

type ownCheck struct {
	m         *ownMatrix
	who       *ownPrincipal
	transport string
	call      ownCall
	out       ownOutcome
	problems  []string
	// allowIdentities lets the answer hold the owners' user IDs and emails.
	allowIdentities bool
}

func (c *ownCheck) errorf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *ownCheck) report(t *testing.T) {
	if len(c.problems) == 0 {
		return
	}
	t.Errorf("%s over %s, %s:\n\t%s\n\tquery: %s\n\tanswer: %s", c.who.name, c.transport, c.call,
		strings.Join(c.problems, "\n\t"), c.call.query, ownTruncate(strings.Join(c.out.raw, " | "), 1500))
}

func (c *ownCheck) errors() []gqlError {
	var errs []gqlError
	for _, p := range c.out.payloads {
		errs = append(errs, p.Errors...)
	}
	return errs
}

func (c *ownCheck) codes() []string {
	var codes []string
	for _, e := range c.errors() {
		code, _ := e.Extensions["code"].(string)
		codes = append(codes, code)
	}
	return codes
}

// value returns the root field's value in the first answer ("null" when
// there is none).
func (c *ownCheck) value() json.RawMessage {
	for _, p := range c.out.payloads {
		var data map[string]json.RawMessage
		if json.Unmarshal(p.Data, &data) == nil && data != nil {
			if v, ok := data[c.call.field.name]; ok {
				return v
			}
		}
	}
	return json.RawMessage("null")
}

func (c *ownCheck) decode(v any) {
	if err := json.Unmarshal(c.value(), v); err != nil {
		c.errorf("decoding %s: %v", c.value(), err)
	}
}

func (c *ownCheck) wantNoErrors() {
	if errs := c.errors(); len(errs) > 0 {
		c.errorf("errors %+v, want none", errs)
	}
}

func (c *ownCheck) wantNull() {
	if v := c.value(); string(v) != "null" {
		c.errorf("%s is %s, want null", c.call.field.name, ownTruncate(string(v), 200))
	}
}

// wantCodes wants an error, each with one of codes, and no value.
func (c *ownCheck) wantCodes(codes ...string) {
	if len(c.errors()) == 0 {
		c.errorf("no error, want %s", strings.Join(codes, " or "))
	}
	c.codesIn(codes...)
	c.wantNull()
}

func (c *ownCheck) codesIn(codes ...string) {
	for _, got := range c.codes() {
		if !slices.Contains(codes, got) {
			c.errorf("error code %q, want %s", got, strings.Join(codes, " or "))
		}
	}
}

func (c *ownCheck) wantEmail(email string) {
	var u *struct{ Email string }
	if c.decode(&u); u == nil || u.Email != email {
		c.errorf("got account %+v, want the new %s", u, email)
	}
}

// wantConnection wants a page with no error that counts only what it can
// show: a totalCount above the edges on the last page counts others' rows.
func (c *ownCheck) wantConnection() {
	c.wantNoErrors()
	var conn *struct {
		TotalCount int
		Edges      []any
		PageInfo   struct{ HasNextPage bool }
	}
	c.decode(&conn)
	if conn == nil {
		c.errorf("no connection")
		return
	}
	if !conn.PageInfo.HasNextPage && conn.TotalCount != len(conn.Edges) {
		c.errorf("totalCount %d with %d edges on the only page: it counts rows the caller cannot see", conn.TotalCount, len(conn.Edges))
	}
}

// checkLeaks looks for the owners' secrets in every string of the answer.
// The IDs and emails the request itself carried may come back in error
// messages (an error may quote its argument), never in data.
func (c *ownCheck) checkLeaks(secrets []ownSecret) {
	sent := map[string]bool{}
	var vars any
	b, _ := json.Marshal(c.call.vars)
	json.Unmarshal(b, &vars)
	ownStrings(vars, func(s string) { sent[s] = true })
	for _, frame := range c.out.frames {
		for _, sec := range secrets {
			if sec.value == "" || (sec.identity && c.allowIdentities) {
				continue
			}
			for _, s := range frame.data {
				if strings.Contains(s, sec.value) {
					c.errorf("LEAK: the data holds %s (%q)", sec.label, ownTruncate(sec.value, 80))
					break
				}
			}
			if sent[sec.value] {
				continue
			}
			for _, s := range frame.errors {
				if strings.Contains(s, sec.value) {
					c.errorf("LEAK: an error holds %s (%q)", sec.label, ownTruncate(sec.value, 80))
					break
				}
			}
		}
	}
}

// ownStrings calls f with every string in v, a decoded JSON value.
func ownStrings(v any, f func(string)) {
	switch v := v.(type) {
	case string:
		f(v)
	case []any:
		for _, e := range v {
			ownStrings(e, f)
		}
	case map[string]any:
		for k, e := range v {
			f(k)
			ownStrings(e, f)
		}
	}
}

func ownTruncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// ---------------------------------------------------------------------------
// Running calls over each transport.

// ownOutcome is everything an operation got back.
type ownOutcome struct {
	payloads []ownPayload // GraphQL responses (errors of an `error` message included)
	frames   []ownFrame   // every string received, split into data and errors
	raw      []string     // as received, for failure messages
	wsError  bool         // a websocket `error` message ended the operation
	failure  string       // the operation could not be run
}

type ownPayload struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// ownFrame holds the strings of one received message: those under
// "errors" (or in an `error` message) and all others.
type ownFrame struct{ data, errors []string }

// add records one received message; errorFrame says all of it is errors.
func (o *ownOutcome) add(raw []byte, errorFrame bool) {
	o.raw = append(o.raw, string(raw))
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		// Not JSON: scan it whole, as data.
		o.frames = append(o.frames, ownFrame{data: []string{string(raw)}})
		return
	}
	var fr ownFrame
	var walk func(v any, inErrors bool)
	walk = func(v any, inErrors bool) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				walk(k, inErrors)
				walk(e, inErrors || k == "errors")
			}
		case []any:
			for _, e := range v {
				walk(e, inErrors)
			}
		case string:
			if inErrors {
				fr.errors = append(fr.errors, v)
			} else {
				fr.data = append(fr.data, v)
			}
		}
	}
	walk(v, errorFrame)
	o.frames = append(o.frames, fr)
}

// ownRunner makes calls as one principal over one transport; a websocket
// is kept open across calls.
type ownRunner struct {
	s         *server
	token     string
	transport string
	conn      *gws.Conn
	nextID    int
}

const ownTimeout = 10 * time.Second

// ownMaxPayloads is where a call stops listening: a subscription that
// streams has answered enough to be judged.
const ownMaxPayloads = 3

func (r *ownRunner) run(c ownCall) ownOutcome {
	switch r.transport {
	case "http":
		return r.http(c)
	case "sse":
		return r.sse(c)
	default:
		return r.ws(c)
	}
}

func (r *ownRunner) request(ctx context.Context, c ownCall) *http.Request {
	body, _ := json.Marshal(map[string]any{"query": c.query, "variables": c.vars})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.s.base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	return req
}

func (r *ownRunner) http(c ownCall) ownOutcome {
	var out ownOutcome
	ctx, cancel := context.WithTimeout(context.Background(), ownTimeout)
	defer cancel()
	resp, err := http.DefaultClient.Do(r.request(ctx, c))
	if err != nil {
		out.failure = err.Error()
		return out
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		out.failure = err.Error()
		return out
	}
	out.add(raw, false)
	var p ownPayload
	if err := json.Unmarshal(raw, &p); err != nil {
		out.failure = fmt.Sprintf("HTTP %d, not a GraphQL response: %v", resp.StatusCode, err)
		return out
	}
	out.payloads = append(out.payloads, p)
	return out
}

func (r *ownRunner) sse(c ownCall) ownOutcome {
	var out ownOutcome
	ctx, cancel := context.WithTimeout(context.Background(), ownTimeout)
	defer cancel()
	req := r.request(ctx, c)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		out.failure = err.Error()
		return out
	}
	defer resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		// Refused before streaming (a bad bearer token, a bad document).
		raw, _ := io.ReadAll(resp.Body)
		out.add(raw, false)
		var p ownPayload
		if err := json.Unmarshal(raw, &p); err != nil {
			out.failure = fmt.Sprintf("HTTP %d, neither a stream nor a GraphQL response: %v", resp.StatusCode, err)
			return out
		}
		out.payloads = append(out.payloads, p)
		return out
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
			if event == "complete" {
				return out
			}
		case strings.HasPrefix(line, "data: "):
			raw := []byte(strings.TrimPrefix(line, "data: "))
			out.add(raw, false)
			var p ownPayload
			if err := json.Unmarshal(raw, &p); err != nil {
				out.failure = fmt.Sprintf("SSE %s event with undecodable data: %v", event, err)
				return out
			}
			out.payloads = append(out.payloads, p)
			if len(out.payloads) >= ownMaxPayloads {
				return out
			}
		}
	}
	if err := sc.Err(); err != nil {
		out.failure = "reading the stream: " + err.Error()
	}
	return out
}

// dial opens a websocket without handshake credentials and presents the
// token in connection_init, as the contract describes.
func (r *ownRunner) dial() error {
	d := gws.Dialer{Subprotocols: []string{r.transport}, HandshakeTimeout: 5 * time.Second}
	c, _, err := d.Dial("ws"+strings.TrimPrefix(r.s.base, "http")+"/graphql", nil)
	if err != nil {
		return fmt.Errorf("dial %s: %w", r.transport, err)
	}
	init := map[string]any{}
	if r.token != "" {
		init["authorization"] = "Bearer " + r.token
	}
	payload, _ := json.Marshal(init)
	c.WriteJSON(wsMessage{Type: "connection_init", Payload: payload})
	for {
		c.SetReadDeadline(time.Now().Add(ownTimeout))
		var m wsMessage
		if err := c.ReadJSON(&m); err != nil {
			c.Close()
			return fmt.Errorf("waiting for connection_ack: %w", err)
		}
		switch m.Type {
		case "connection_ack":
			r.conn = c
			return nil
		case "ka", "ping", "pong":
		default:
			c.Close()
			return fmt.Errorf("got %s %s, want connection_ack", m.Type, m.Payload)
		}
	}
}

func (r *ownRunner) close() {
	if r.conn != nil {
		r.conn.Close()
		r.conn = nil
	}
}

func (r *ownRunner) ws(c ownCall) ownOutcome {
	var out ownOutcome
	if r.conn == nil {
		if err := r.dial(); err != nil {
			out.failure = err.Error()
			return out
		}
	}
	start, data, stop := "subscribe", "next", "complete"
	if r.transport == "graphql-ws" {
		start, data, stop = "start", "data", "stop"
	}
	r.nextID++
	id := strconv.Itoa(r.nextID)
	payload, _ := json.Marshal(map[string]any{"query": c.query, "variables": c.vars})
	if err := r.conn.WriteJSON(wsMessage{ID: id, Type: start, Payload: payload}); err != nil {
		out.failure = "writing: " + err.Error()
		r.close()
		return out
	}
	for {
		r.conn.SetReadDeadline(time.Now().Add(ownTimeout))
		_, raw, err := r.conn.ReadMessage()
		if err != nil {
			var ce *gws.CloseError
			if errors.As(err, &ce) {
				out.failure = fmt.Sprintf("the socket closed with %d %q", ce.Code, ce.Text)
			} else {
				out.failure = "reading: " + err.Error()
			}
			r.close()
			return out
		}
		var m wsMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			out.failure = fmt.Sprintf("undecodable message %s", raw)
			r.close()
			return out
		}
		switch {
		case m.Type == "ping":
			r.conn.WriteJSON(wsMessage{Type: "pong"})
			continue
		case m.Type == "ka" || m.Type == "pong":
			continue
		case m.ID != id && m.ID != "":
			continue // the end of an earlier operation
		}
		switch m.Type {
		case data:
			out.add(raw, false)
			var p ownPayload
			if err := json.Unmarshal(m.Payload, &p); err != nil {
				out.failure = fmt.Sprintf("undecodable %s payload %s", data, m.Payload)
				return out
			}
			out.payloads = append(out.payloads, p)
			if len(out.payloads) >= ownMaxPayloads {
				// It streams: enough to judge. Stop it and start afresh.
				r.conn.WriteJSON(wsMessage{ID: id, Type: stop})
				r.close()
				return out
			}
		case "error":
			out.add(raw, true)
			out.wsError = true
			var errs []gqlError
			if err := json.Unmarshal(m.Payload, &errs); err != nil {
				// graphql-ws (legacy) sends a single error object
				var e gqlError
				json.Unmarshal(m.Payload, &e)
				errs = []gqlError{e}
			}
			out.payloads = append(out.payloads, ownPayload{Data: json.RawMessage("null"), Errors: errs})
			return out
		case "complete":
			return out
		default:
			out.add(raw, true)
			out.failure = fmt.Sprintf("unexpected message %s", raw)
			r.close()
			return out
		}
	}
}

// ---------------------------------------------------------------------------
// The schema, by introspection.

const ownIntrospectionQuery = `query {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types {
      kind name
      fields { name args { name defaultValue type { ...T } } type { ...T } }
      inputFields { name defaultValue type { ...T } }
      enumValues { name }
      possibleTypes { name }
    }
  }
}
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }`

type ownTypeRef struct {
	Kind   string      `json:"kind"`
	Name   string      `json:"name"`
	OfType *ownTypeRef `json:"ofType"`
}

// named is the type without its list and non-null wrappers.
func (r ownTypeRef) named() string {
	for r.OfType != nil {
		r = *r.OfType
	}
	return r.Name
}

// String is the type as a variable declaration writes it.
func (r ownTypeRef) String() string {
	switch r.Kind {
	case "NON_NULL":
		return r.OfType.String() + "!"
	case "LIST":
		return "[" + r.OfType.String() + "]"
	}
	return r.Name
}

type ownValue struct {
	Name         string     `json:"name"`
	DefaultValue *string    `json:"defaultValue"`
	Type         ownTypeRef `json:"type"`
}

func (v ownValue) required() bool { return v.Type.Kind == "NON_NULL" && v.DefaultValue == nil }

// isID reports whether an input field is one ID of some object: id,
// promptID (not the predicates idNEQ, idIn, ...).
func (v ownValue) isID() bool {
	t := v.Type
	if t.Kind == "NON_NULL" {
		t = *t.OfType
	}
	return t.Kind == "SCALAR" && t.Name == "ID" && (v.Name == "id" || strings.HasSuffix(v.Name, "ID"))
}

type ownField struct {
	Name string     `json:"name"`
	Args []ownValue `json:"args"`
	Type ownTypeRef `json:"type"`
}

type ownType struct {
	Kind          string     `json:"kind"`
	Name          string     `json:"name"`
	Fields        []ownField `json:"fields"`
	InputFields   []ownValue `json:"inputFields"`
	EnumValues    []struct{ Name string }
	PossibleTypes []struct{ Name string }
}

type ownSchema struct {
	types                   map[string]*ownType
	query, mutation, stream string // root type names
}

// ownRoot is a root field with where it is.
type ownRoot struct {
	field ownField
	op    string // query, mutation, subscription
	name  string
	path  string // Query.node
}

func ownIntrospect(t *testing.T, s *server) *ownSchema {
	var out struct {
		Schema struct {
			QueryType, MutationType, SubscriptionType *struct{ Name string }
			Types                                     []*ownType
		} `json:"__schema"`
	}
	ownIn(s, t).mustGQL(ownIntrospectionQuery, nil, &out)
	sc := &ownSchema{types: map[string]*ownType{}}
	for _, typ := range out.Schema.Types {
		sc.types[typ.Name] = typ
	}
	if out.Schema.QueryType == nil || out.Schema.MutationType == nil || out.Schema.SubscriptionType == nil {
		t.Fatalf("introspection misses a root type: %+v", out.Schema)
	}
	sc.query, sc.mutation, sc.stream = out.Schema.QueryType.Name, out.Schema.MutationType.Name, out.Schema.SubscriptionType.Name
	return sc
}

func (sc *ownSchema) rootFields() []ownRoot {
	var roots []ownRoot
	for _, r := range []struct{ op, typ string }{{"query", sc.query}, {"mutation", sc.mutation}, {"subscription", sc.stream}} {
		for _, f := range sc.types[r.typ].Fields {
			roots = append(roots, ownRoot{field: f, op: r.op, name: f.Name, path: r.typ + "." + f.Name})
		}
	}
	sort.SliceStable(roots, func(i, j int) bool { return roots[i].path < roots[j].path })
	return roots
}

// hasID reports whether a value of type r carries an ID: itself, or in
// the fields of an input object that a call fills (the required ones, and
// with optional, the optional ones that are an ID).
func (sc *ownSchema) hasID(r ownTypeRef, optional bool, seen map[string]bool) bool {
	name := r.named()
	if name == "ID" {
		return true
	}
	typ := sc.types[name]
	if typ == nil || typ.Kind != "INPUT_OBJECT" || seen[name] {
		return false
	}
	seen[name] = true
	for _, f := range typ.InputFields {
		if f.required() && sc.hasID(f.Type, optional, seen) {
			return true
		}
		if optional && f.isID() {
			return true
		}
	}
	return false
}

// takesID reports whether a field's required arguments carry an ID.
func (sc *ownSchema) takesID(f ownField) bool {
	for _, a := range f.Args {
		if a.required() && sc.hasID(a.Type, false, map[string]bool{}) {
			return true
		}
	}
	return false
}

// takesOptionalID reports whether an optional argument may carry an ID.
func (sc *ownSchema) takesOptionalID(f ownField) bool {
	for _, a := range f.Args {
		if !a.required() && sc.hasID(a.Type, true, map[string]bool{}) {
			return true
		}
	}
	return false
}

// value makes a value of type r with id wherever an ID goes: sensible
// values elsewhere, input objects with their required fields (and the
// fields that are an ID when id is set).
func (sc *ownSchema) value(r ownTypeRef, id string) any {
	switch r.Kind {
	case "NON_NULL":
		return sc.value(*r.OfType, id)
	case "LIST":
		return []any{sc.value(*r.OfType, id)}
	}
	typ := sc.types[r.Name]
	switch {
	case typ != nil && typ.Kind == "ENUM":
		return typ.EnumValues[0].Name
	case typ != nil && typ.Kind == "INPUT_OBJECT":
		obj := map[string]any{}
		for _, f := range typ.InputFields {
			if f.required() || (id != "" && f.isID()) {
				obj[f.Name] = sc.value(f.Type, id)
			}
		}
		return obj
	}
	switch r.Name {
	case "ID":
		return id
	case "Int":
		return 1
	case "Float":
		return 1.0
	case "Boolean":
		return true
	case "Time":
		return "2030-01-01T00:00:00Z"
	}
	return "x"
}

// call builds the operation of root field f: its required arguments, with
// id in every ID (and, with optional, the optional arguments that take an
// ID too); override sets arguments outright. A connection asks for
// ownPageSize items.
func (sc *ownSchema) call(f ownRoot, id ownSecret, optional bool, override map[string]any, rule *ownRule) ownCall {
	var defs, args []string
	vars := map[string]any{}
	for _, a := range f.field.Args {
		v, ok := override[a.Name]
		switch {
		case ok:
		case a.required():
			v, ok = sc.value(a.Type, id.value), true
		case optional && sc.hasID(a.Type, true, map[string]bool{}):
			v, ok = sc.value(a.Type, id.value), true
		case a.Name == "first" && a.Type.named() == "Int":
			v, ok = ownPageSize, true
		}
		if !ok {
			continue
		}
		defs = append(defs, "$"+a.Name+": "+a.Type.String())
		args = append(args, a.Name+": $"+a.Name)
		vars[a.Name] = v
	}
	q := f.op + " Matrix"
	if len(defs) > 0 {
		q += "(" + strings.Join(defs, ", ") + ")"
	}
	q += " { " + f.name
	if len(args) > 0 {
		q += "(" + strings.Join(args, ", ") + ")"
	}
	q += sc.selection(f.field.Type, 0) + " }"
	return ownCall{field: f, op: f.op, query: q, vars: vars, id: id, rule: rule}
}

// ownPageSize is the page a connection asks for: far more than the
// intruders own, so nothing hides on a later page, and within the
// complexity limit with every field of a story selected.
const ownPageSize = 50

// ownMaxDepth is how deep a selection follows objects: far enough for a
// connection's nodes and what they point to.
const ownMaxDepth = 3

// selection asks for every scalar of type r, and of the objects below it
// to ownMaxDepth (fields with arguments left out), with __typename; an
// interface or union asks for each of its types.
func (sc *ownSchema) selection(r ownTypeRef, depth int) string {
	typ := sc.types[r.named()]
	if typ == nil {
		return ""
	}
	switch typ.Kind {
	case "OBJECT":
		parts := []string{"__typename"}
		for _, f := range typ.Fields {
			if len(f.Args) > 0 {
				continue
			}
			switch k := sc.types[f.Type.named()].Kind; {
			case k == "SCALAR" || k == "ENUM":
				parts = append(parts, f.Name)
			case depth < ownMaxDepth:
				parts = append(parts, f.Name+sc.selection(f.Type, depth+1))
			}
		}
		return " { " + strings.Join(parts, " ") + " }"
	case "INTERFACE", "UNION":
		// Fields of one name but different types in two of the types
		// would conflict: those get an alias.
		types := map[string]map[string]bool{}
		for _, p := range typ.PossibleTypes {
			for _, f := range sc.types[p.Name].Fields {
				if types[f.Name] == nil {
					types[f.Name] = map[string]bool{}
				}
				types[f.Name][f.Type.String()] = true
			}
		}
		parts := []string{"__typename"}
		for _, p := range typ.PossibleTypes {
			sel := sc.selection(ownTypeRef{Kind: "OBJECT", Name: p.Name}, depth)
			for _, f := range sc.types[p.Name].Fields {
				if len(types[f.Name]) > 1 {
					sel = strings.Replace(sel, " "+f.Name+" ", " "+p.Name+"_"+f.Name+": "+f.Name+" ", 1)
				}
			}
			parts = append(parts, "... on "+p.Name+sel)
		}
		return " { " + strings.Join(parts, " ") + " }"
	}
	return ""
}

// ownPublicFields reads which root fields graph/*.graphqls marks @public,
// the one source of what needs no credentials: path -> public.
func ownPublicFields(t *testing.T) map[string]bool {
	files, err := filepath.Glob(filepath.Join("graph", "*.graphqls"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no schema files: %v", err)
	}
	var sources []*ast.Source
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, &ast.Source{Name: f, Input: string(b)})
	}
	schema, err := gqlparser.LoadSchema(sources...)
	if err != nil {
		t.Fatalf("loading graph/*.graphqls: %v", err)
	}
	public := map[string]bool{}
	for _, root := range []*ast.Definition{schema.Query, schema.Mutation, schema.Subscription} {
		if root == nil {
			continue
		}
		for _, f := range root.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			public[root.Name+"."+f.Name] = f.Directives.ForName("public") != nil
		}
	}
	return public
}

// ---------------------------------------------------------------------------
// Streams, share tokens and anonymous websockets.

// streams subscribes to the owners' stories with stream_test.go's
// subscribers (credentials in the websocket handshake's header, unlike the
// walk): every one is refused with NOT_FOUND, and no text comes.
func (m *ownMatrix) streams(t *testing.T) {
	secrets := m.secrets()
	for _, who := range m.accounts() {
		for name, subscribe := range transports {
			for _, o := range m.owners {
				for _, st := range []storedStory{o.finished, o.running} {
					res := subscribe(t, m.s.as(who.token), st.ID, nil)
					where := fmt.Sprintf("%s subscribing over %s to %s's %s story %s", who.name, name, o.name, strings.ToLower(st.Status), st.ID)
					if len(res.events) > 0 {
						t.Errorf("LEAK: %s got %d events: %+v", where, len(res.events), res.events[0])
					}
					if len(res.errors) == 0 || res.errors[0].Extensions["code"] != "NOT_FOUND" {
						t.Errorf("%s: errors %+v, want NOT_FOUND", where, res.errors)
					}
					b, _ := json.Marshal(res.errors)
					for _, sec := range secrets {
						if sec.value != st.ID && strings.Contains(string(b), sec.value) {
							t.Errorf("LEAK: %s: the error holds %s", where, sec.label)
						}
					}
				}
			}
		}
	}
}

// shareTokens checks that a share token grants its story alone: carol's
// shared story does not open the owners' objects in the same operation, nor
// their streams; a bogus token opens nothing.
func (m *ownMatrix) shareTokens(t *testing.T) {
	s := ownIn(m.s, t)
	carol := s.as(s.newUser("carol@example.com"))
	var p struct{ CreatePrompt struct{ ID string } }
	carol.mustGQL(`mutation { createPrompt(input: {content: "A shared kite"}) { id } }`, nil, &p)
	var g struct{ GenerateStory struct{ ID string } }
	carol.mustGQL(`mutation($p: ID!) { generateStory(input: {promptID: $p, maxTokens: 2}) { id } }`, map[string]any{"p": p.CreatePrompt.ID}, &g)
	var sh struct{ ShareStory struct{ ShareToken string } }
	carol.mustGQL(`mutation($id: ID!) { shareStory(id: $id) { shareToken } }`, map[string]any{"id": g.GenerateStory.ID}, &sh)
	token := sh.ShareStory.ShareToken
	if token == "" {
		t.Fatal("shareStory gave no token")
	}

	secrets := m.secrets()
	var ids []string
	for _, id := range m.ids() {
		ids = append(ids, id.value)
	}
	bogus := "sbl_" + strings.Repeat("A", 43)
	for _, w := range m.intruders {
		for _, transport := range ownTransports {
			r := &ownRunner{s: m.s, token: w.token, transport: transport}
			// Reading: the grant of carol's token opens carol's story only,
			// not the owners' objects asked for in the same operation.
			// (node, nodes and the lists need an account: anonymous asks
			// for the shared story alone.)
			query := `query Matrix($t: String!, $ids: [ID!]!, $p: ID!, $st: ID!) {
				sharedStory(token: $t) { id text prompt { id content stories { totalCount edges { node { id text } } } } }
				node(id: $p) { id ... on Prompt { content } }
				story: node(id: $st) { id ... on Story { text } }
				nodes(ids: $ids) { id }
				prompts(first: 50) { edges { node { id content } } }
				stories(first: 50) { edges { node { id text } } }
			}`
			vars := map[string]any{"t": token, "ids": ids, "p": m.owners[0].promptID, "st": m.owners[1].running.ID}
			if w.anonymous() {
				query = `query Matrix($t: String!) {
					sharedStory(token: $t) { id text prompt { id content stories { totalCount edges { node { id text } } } } }
				}`
				vars = map[string]any{"t": token}
			}
			read := ownCall{
				field: ownRoot{path: "Query.sharedStory", name: "sharedStory", op: "query"},
				op:    "query", query: query, vars: vars,
			}
			out := r.run(read)
			c := &ownCheck{m: m, who: w, transport: transport, call: read, out: out}
			if out.failure != "" {
				c.errorf("%s", out.failure)
			}
			var data struct {
				SharedStory *struct{ ID string }
				Node, Story *struct{ ID string }
				Nodes       []*struct{ ID string }
			}
			for _, p := range out.payloads {
				if len(p.Data) > 0 && string(p.Data) != "null" {
					json.Unmarshal(p.Data, &data)
				}
			}
			if errs := c.errors(); len(errs) > 0 && !w.anonymous() {
				c.codesIn("NOT_FOUND", "BAD_USER_INPUT")
			} else if len(errs) > 0 {
				c.errorf("errors %+v, want none", errs)
			}
			if data.SharedStory == nil || data.SharedStory.ID != g.GenerateStory.ID {
				c.errorf("sharedStory(carol's token) is %+v, want carol's story", data.SharedStory)
			}
			if data.Node != nil || data.Story != nil {
				c.errorf("with carol's share token, node gave %+v and %+v, want null", data.Node, data.Story)
			}
			for _, n := range data.Nodes {
				if n != nil {
					c.errorf("with carol's share token, nodes gave %+v, want null", n)
				}
			}
			c.checkLeaks(secrets)
			c.report(t)

			r.close()
			// Following an owner's story with carol's token, or a bogus
			// one: NOT_FOUND.
			for _, tok := range []string{token, bogus} {
				for _, o := range m.owners {
					follow := ownCall{
						field: ownRoot{path: "Subscription.storyStream", name: "storyStream", op: "subscription"},
						op:    "subscription",
						query: `subscription Matrix($id: ID!, $t: String) { storyStream(storyID: $id, shareToken: $t) { storyID seq delta status tokenCount error } }`,
						vars:  map[string]any{"id": o.running.ID, "t": tok},
						id:    ownSecret{o.name + "'s running story", o.running.ID, false},
					}
					c := &ownCheck{m: m, who: w, transport: transport, call: follow, out: r.run(follow)}
					if c.out.failure != "" {
						c.errorf("%s", c.out.failure)
					}
					c.wantCodes("NOT_FOUND")
					c.checkLeaks(secrets)
					c.report(t)
				}
			}
			r.close()
		}
	}
}

// anonymousWebsocket: a socket without credentials is acked, and a
// storyStream without a share token on it gets an `error` message with
// UNAUTHENTICATED; a connection_init with credentials that are not valid
// closes the socket with 4401.
func (m *ownMatrix) anonymousWebsocket(t *testing.T) {
	s := ownIn(m.s, t)
	// A token that was valid once: created, then revoked.
	revoked := s.as(s.newUser("dave@example.com"))
	var tok struct {
		CreateAPIToken struct {
			Token    string
			APIToken struct{ ID string }
		}
	}
	revoked.mustGQL(`mutation { createApiToken(input: {name: "soon revoked"}) { token apiToken { id } } }`, nil, &tok)
	revoked.mustGQL(`mutation($id: ID!) { revokeApiToken(id: $id) { id } }`, map[string]any{"id": tok.CreateAPIToken.APIToken.ID}, nil)

	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(proto, func(t *testing.T) {
			r := &ownRunner{s: m.s, transport: proto}
			defer r.close()
			for _, o := range m.owners {
				follow := ownCall{
					field: ownRoot{path: "Subscription.storyStream", name: "storyStream", op: "subscription"},
					op:    "subscription",
					query: streamQuery,
					vars:  map[string]any{"id": o.running.ID},
					id:    ownSecret{o.name + "'s running story", o.running.ID, false},
				}
				c := &ownCheck{m: m, who: &ownPrincipal{name: "anonymous"}, transport: proto, call: follow, out: r.run(follow)}
				if c.out.failure != "" {
					c.errorf("%s", c.out.failure)
				}
				c.wantCodes("UNAUTHENTICATED")
				if !c.out.wsError {
					c.errorf("the refusal did not come as an `error` message")
				}
				c.checkLeaks(m.secrets())
				c.report(t)
			}

			for name, token := range map[string]string{
				"a bogus token":   "sbt_" + strings.Repeat("A", 43),
				"a revoked token": tok.CreateAPIToken.Token,
				"not a token":     "hello",
			} {
				c := dial(t, m.s.as(""), proto)
				payload, _ := json.Marshal(map[string]any{"authorization": "Bearer " + token})
				c.WriteJSON(wsMessage{Type: "connection_init", Payload: payload})
				var got []string
				for {
					c.SetReadDeadline(time.Now().Add(ownTimeout))
					var msg wsMessage
					err := c.ReadJSON(&msg)
					if err == nil {
						if msg.Type == "connection_ack" {
							t.Errorf("%s: connection_init with %s was acked", proto, name)
							break
						}
						got = append(got, msg.Type)
						continue
					}
					var ce *gws.CloseError
					if !errors.As(err, &ce) || ce.Code != 4401 {
						t.Errorf("%s: connection_init with %s: %v after %v, want a close with 4401", proto, name, err, got)
					}
					break
				}
				c.Close()
			}
		})
	}
}

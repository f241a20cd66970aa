package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/storybot/storybot/internal/database/dbtest"
)

// code returns the extensions.code of the first error, or "".
func code(errs []gqlError) string {
	if len(errs) == 0 {
		return ""
	}
	c, _ := errs[0].Extensions["code"].(string)
	return c
}

// signUp signs up over HTTP with no credentials and returns the response's
// session cookie (nil when none was set) and the errors.
func (s *server) signUp(email, password string) (*http.Cookie, []gqlError) {
	s.t.Helper()
	return s.sessionCall(`mutation($in: SignUpInput!) { signUp(input: $in) { id email role } }`,
		map[string]any{"in": map[string]any{"email": email, "password": password}})
}

// signIn signs in over HTTP with no credentials, as signUp.
func (s *server) signIn(email, password string) (*http.Cookie, []gqlError) {
	s.t.Helper()
	return s.sessionCall(`mutation($in: SignInInput!) { signIn(input: $in) { id email } }`,
		map[string]any{"in": map[string]any{"email": email, "password": password}})
}

func (s *server) sessionCall(query string, vars map[string]any) (*http.Cookie, []gqlError) {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	resp, raw := s.as("").post("/graphql", "application/json", string(body))
	var r struct{ Errors []gqlError }
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		s.t.Fatalf("decoding %s: %v", raw, err)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "storybot_session" && c.Value != "" {
			return c, r.Errors
		}
	}
	return nil, r.Errors
}

// withCookie runs an operation with a session cookie and no token.
func (s *server) withCookie(c *http.Cookie, query string, vars map[string]any, out any) []gqlError {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.base+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(c)
	_, raw := s.as("").send(req)
	var r struct {
		Data   json.RawMessage
		Errors []gqlError
	}
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		s.t.Fatalf("decoding %s: %v", raw, err)
	}
	if out != nil && len(r.Data) > 0 && string(r.Data) != "null" {
		if err := json.Unmarshal(r.Data, out); err != nil {
			s.t.Fatal(err)
		}
	}
	return r.Errors
}

type viewerData struct {
	Viewer *struct {
		ID, Email, Role string
	}
}

func TestSignUpSignInSignOut(t *testing.T) {
	s := launch(t, map[string]string{"STORYBOT_ADMIN_EMAILS": "boss@example.com"})

	// The first account of a server is its admin; the session cookie is
	// HttpOnly, SameSite=Lax, and not Secure on plain-http localhost.
	first, errs := s.signUp("  Ada@Example.com ", testPassword)
	if len(errs) > 0 || first == nil {
		t.Fatalf("signUp: %v (cookie %v)", errs, first)
	}
	if !first.HttpOnly || first.SameSite != http.SameSiteLaxMode || first.Secure || first.Path != "/" {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, not Secure on localhost, Path=/", first)
	}
	var v viewerData
	if errs := s.withCookie(first, `{ viewer { id email role } }`, nil, &v); len(errs) > 0 || v.Viewer == nil {
		t.Fatalf("viewer: %v %+v", errs, v)
	}
	if v.Viewer.Email != "ada@example.com" || v.Viewer.Role != "ADMIN" {
		t.Errorf("first account %+v: want ada@example.com (normalised), ADMIN", v.Viewer)
	}

	// Later accounts are users, but for STORYBOT_ADMIN_EMAILS; emails are
	// unique after normalising.
	if c, errs := s.signUp("bob@example.com", testPassword); c == nil || len(errs) > 0 {
		t.Fatalf("second signUp: %v", errs)
	} else if s.withCookie(c, `{ viewer { role } }`, nil, &v); v.Viewer.Role != "USER" {
		t.Errorf("second account is %s, want USER", v.Viewer.Role)
	}
	if c, _ := s.signUp("boss@example.com", testPassword); c == nil {
		t.Fatal("boss could not sign up")
	} else if s.withCookie(c, `{ viewer { role } }`, nil, &v); v.Viewer.Role != "ADMIN" {
		t.Errorf("an account in STORYBOT_ADMIN_EMAILS is %s, want ADMIN", v.Viewer.Role)
	}
	for _, tc := range []struct{ email, password, why string }{
		{"ADA@example.com", testPassword, "taken"},
		{"not an email", testPassword, "malformed email"},
		{"carol@example.com", "short", "short password"},
	} {
		if c, errs := s.signUp(tc.email, tc.password); c != nil || code(errs) != "BAD_USER_INPUT" {
			t.Errorf("signUp with a %s: cookie %v, errors %v; want BAD_USER_INPUT and no session", tc.why, c, errs)
		}
	}

	// Signing in starts a new session and ends the one the request came
	// with (sessions rotate).
	body, _ := json.Marshal(map[string]any{
		"query":     `mutation($in: SignInInput!) { signIn(input: $in) { id } }`,
		"variables": map[string]any{"in": map[string]any{"email": "ada@example.com", "password": testPassword}},
	})
	req, _ := http.NewRequest(http.MethodPost, s.base+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(first)
	resp, raw := s.as("").send(req)
	var second *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "storybot_session" {
			second = c
		}
	}
	if second == nil || second.Value == first.Value {
		t.Fatalf("signIn did not set a new session cookie: %s", raw)
	}
	if errs := s.withCookie(first, `{ prompts(first: 1) { totalCount } }`, nil, nil); code(errs) != "UNAUTHENTICATED" {
		t.Errorf("the session before signIn still works: %v", errs)
	}
	if errs := s.withCookie(second, `{ prompts(first: 1) { totalCount } }`, nil, nil); len(errs) > 0 {
		t.Errorf("the new session does not work: %v", errs)
	}

	// A wrong password and an unknown email get the same answer.
	_, wrongPassword := s.signIn("ada@example.com", "not the password")
	_, unknown := s.signIn("nobody@example.com", testPassword)
	if code(wrongPassword) != "UNAUTHENTICATED" || code(unknown) != "UNAUTHENTICATED" || wrongPassword[0].Message != unknown[0].Message {
		t.Errorf("wrong password %v and unknown email %v must be the same UNAUTHENTICATED", wrongPassword, unknown)
	}

	// Signing out ends the session and clears the cookie; the request after
	// it is anonymous.
	var out struct{ SignOut bool }
	if errs := s.withCookie(second, `mutation { signOut }`, nil, &out); len(errs) > 0 || !out.SignOut {
		t.Fatalf("signOut: %v", errs)
	}
	if errs := s.withCookie(second, `{ viewer { id } }`, nil, &v); len(errs) > 0 || v.Viewer != nil {
		t.Errorf("after signOut viewer is %+v (errors %v), want null", v.Viewer, errs)
	}
	if errs := s.withCookie(second, `{ prompts(first: 1) { totalCount } }`, nil, nil); code(errs) != "UNAUTHENTICATED" {
		t.Errorf("after signOut prompts answered %v, want UNAUTHENTICATED", errs)
	}
}

func TestSessionCookieIsSecureOffLocalhost(t *testing.T) {
	s := launch(t, nil)
	body := `{"query":"mutation { signUp(input: {email: \"ada@example.com\", password: \"correct horse battery staple\"}) { id } }"}`
	req, _ := http.NewRequest(http.MethodPost, s.base+"/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Host = "stories.example.com"
	resp, raw := s.as("").send(req)
	if len(resp.Cookies()) == 0 {
		t.Fatalf("no cookie: %s", raw)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "storybot_session" && (!c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode) {
			t.Errorf("cookie for stories.example.com: %+v; want Secure, HttpOnly, SameSite=Lax", c)
		}
	}
}

func TestSignUpModes(t *testing.T) {
	for _, mode := range []string{"invite", "closed"} {
		t.Run(mode, func(t *testing.T) {
			s := launch(t, map[string]string{"STORYBOT_SIGNUP": mode})
			// The first account is always allowed: it is the admin.
			admin, errs := s.signUp("admin@example.com", testPassword)
			if admin == nil {
				t.Fatalf("the first account was refused: %v", errs)
			}
			if c, errs := s.signUp("walk-in@example.com", testPassword); c != nil || code(errs) != "FORBIDDEN" {
				t.Errorf("signUp on a %s server: %v; want FORBIDDEN", mode, errs)
			}
			// An admin creates accounts; a user may not.
			var made struct{ CreateUser struct{ Email, Role string } }
			create := `mutation($in: SignUpInput!) { createUser(input: $in) { email role } }`
			if errs := s.withCookie(admin, create, map[string]any{"in": map[string]any{"email": "invited@example.com", "password": testPassword}}, &made); len(errs) > 0 {
				t.Fatalf("createUser: %v", errs)
			}
			user, errs := s.signIn("invited@example.com", testPassword)
			if user == nil {
				t.Fatalf("the invited account cannot sign in: %v", errs)
			}
			if errs := s.withCookie(user, create, map[string]any{"in": map[string]any{"email": "x@example.com", "password": testPassword}}, nil); code(errs) != "FORBIDDEN" {
				t.Errorf("a user's createUser: %v; want FORBIDDEN", errs)
			}
		})
	}
}

func TestAPITokens(t *testing.T) {
	s := start(t, nil)
	var made struct {
		CreateAPIToken struct {
			Token    string
			APIToken struct{ ID, Name string } `json:"apiToken"`
		} `json:"createApiToken"`
	}
	s.mustGQL(`mutation { createApiToken(input: {name: "ci"}) { token apiToken { id name } } }`, nil, &made)
	token, id := made.CreateAPIToken.Token, made.CreateAPIToken.APIToken.ID
	if !strings.HasPrefix(token, "sbt_") || made.CreateAPIToken.APIToken.Name != "ci" {
		t.Fatalf("createApiToken: %+v", made)
	}

	// The token works as a bearer token, and its use is recorded.
	ci := s.as(token)
	var v viewerData
	ci.mustGQL(`{ viewer { email } }`, nil, &v)
	if v.Viewer == nil || v.Viewer.Email != "admin@example.com" {
		t.Fatalf("viewer with the token: %+v", v.Viewer)
	}
	var list struct {
		APITokens []struct {
			ID         string
			LastUsedAt *time.Time
			RevokedAt  *time.Time
		} `json:"apiTokens"`
	}
	s.mustGQL(`{ apiTokens { id lastUsedAt revokedAt } }`, nil, &list)
	found := false
	for _, tk := range list.APITokens {
		if tk.ID == id {
			found = true
			if tk.LastUsedAt == nil {
				t.Error("lastUsedAt is not set after the token was used")
			}
		}
	}
	if !found {
		t.Fatalf("apiTokens lacks the new token: %+v", list)
	}
	var byNode struct {
		Node struct {
			Name string
		}
	}
	s.mustGQL(`query($id: ID!) { node(id: $id) { ... on ApiToken { name } } }`, map[string]any{"id": id}, &byNode)
	if byNode.Node.Name != "ci" {
		t.Errorf("node(the token's id) = %+v", byNode)
	}

	// A revoked token is refused with 401 and UNAUTHENTICATED.
	s.mustGQL(`mutation($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }`, map[string]any{"id": id}, nil)
	resp, raw := ci.post("/graphql", "application/json", `{"query":"{ viewer { id } }"}`)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(raw, `"UNAUTHENTICATED"`) || !strings.Contains(raw, `"traceId"`) {
		t.Errorf("revoked token: %d %s; want 401 UNAUTHENTICATED with a trace id", resp.StatusCode, raw)
	}

	// A token past its expiry is refused; an expiry in the past is bad
	// input.
	var soon struct {
		CreateAPIToken struct{ Token string } `json:"createApiToken"`
	}
	s.mustGQL(`mutation($at: Time!) { createApiToken(input: {name: "brief", expiresAt: $at}) { token } }`,
		map[string]any{"at": time.Now().Add(3 * time.Second).Format(time.RFC3339Nano)}, &soon)
	brief := s.as(soon.CreateAPIToken.Token)
	if errs := brief.gql(`{ viewer { id } }`, nil, nil); len(errs) > 0 {
		t.Fatalf("a token before its expiry: %v", errs)
	}
	time.Sleep(3500 * time.Millisecond)
	if resp, raw := brief.post("/graphql", "application/json", `{"query":"{ viewer { id } }"}`); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an expired token: %d %s; want 401", resp.StatusCode, raw)
	}
	if errs := s.gql(`mutation($at: Time!) { createApiToken(input: {name: "past", expiresAt: $at}) { token } }`,
		map[string]any{"at": time.Now().Add(-time.Hour).Format(time.RFC3339)}, nil); code(errs) != "BAD_USER_INPUT" {
		t.Errorf("an expiry in the past: %v; want BAD_USER_INPUT", errs)
	}
	// Forged and malformed tokens are refused alike.
	for _, bad := range []string{"sbt_" + strings.Repeat("A", 43), "nonsense", "a.b.c"} {
		if resp, _ := s.as(bad).post("/graphql", "application/json", `{"query":"{ models }"}`); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("token %q: status %d, want 401", bad, resp.StatusCode)
		}
	}
}

// wsInit opens a graphql-transport-ws socket with no handshake credentials
// and sends connection_init with payload.
func wsInit(t *testing.T, s *server, payload string) *gws.Conn {
	t.Helper()
	c := dial(t, s.as(""), "graphql-transport-ws")
	c.WriteJSON(wsMessage{Type: "connection_init", Payload: json.RawMessage(payload)})
	return c
}

// closeCode reads until the socket closes and returns its close code.
func closeCode(t *testing.T, c *gws.Conn, within time.Duration) int {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *gws.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		t.Fatalf("the socket did not close with a code within %s: %v", within, err)
	}
}

func TestWebsocketCredentials(t *testing.T) {
	s := start(t, map[string]string{"STORYTELLER_TOKENS_PER_SECOND": "5", "STORYBOT_AUTH_RECHECK": "200ms"})
	st := s.generate("A clock that runs on rain", 4000)

	t.Run("token in connection_init", func(t *testing.T) {
		c := wsInit(t, s, `{"authorization":"Bearer `+s.token+`"}`)
		if m := readMessage(t, c); m.Type != "connection_ack" {
			t.Fatalf("got %s, want connection_ack", m.Type)
		}
		res := wsSubscribe(t, c, "subscribe", "next", storyOp(st.ID), func(streamEvent) { c.WriteJSON(wsMessage{ID: "1", Type: "complete"}) })
		if len(res.errors) > 0 || len(res.events) == 0 {
			// the subscription completes after our complete, or gives events
			t.Logf("events %d errors %v", len(res.events), res.errors)
		}
		if len(res.errors) > 0 {
			t.Errorf("a subscription with a valid token failed: %v", res.errors)
		}
	})

	t.Run("invalid credentials close 4401", func(t *testing.T) {
		for _, payload := range []string{
			`{"authorization":"Bearer sbt_` + strings.Repeat("x", 43) + `"}`,
			`{"authorization":"Bearer garbage"}`,
			`{"Authorization":"sbs_` + strings.Repeat("y", 43) + `"}`,
		} {
			if code := closeCode(t, wsInit(t, s, payload), 5*time.Second); code != 4401 {
				t.Errorf("connection_init %s closed with %d, want 4401", payload, code)
			}
		}
	})

	t.Run("no credentials: acked, operations UNAUTHENTICATED", func(t *testing.T) {
		c := wsInit(t, s, `{}`)
		if m := readMessage(t, c); m.Type != "connection_ack" {
			t.Fatalf("got %s, want connection_ack", m.Type)
		}
		res := wsSubscribe(t, c, "subscribe", "next", storyOp(st.ID), nil)
		if code(res.errors) != "UNAUTHENTICATED" || len(res.events) > 0 {
			t.Errorf("an anonymous subscription: events %d, errors %v; want UNAUTHENTICATED", len(res.events), res.errors)
		}
		// A query that needs credentials gets an error message too; a
		// public one answers.
		if m := readMessage(t, c); m.Type != "complete" || m.ID != "1" {
			t.Fatalf("after the refused subscription: %s %s; want its complete", m.Type, m.ID)
		}
		c.WriteJSON(wsMessage{ID: "q", Type: "subscribe", Payload: json.RawMessage(`{"query":"{ prompts { totalCount } }"}`)})
		if m := readMessage(t, c); m.Type != "error" || !strings.Contains(string(m.Payload), `"UNAUTHENTICATED"`) {
			t.Errorf("an anonymous query over the socket: %s %s; want an error message with UNAUTHENTICATED", m.Type, m.Payload)
		}
		if m := readMessage(t, c); m.Type != "complete" || m.ID != "q" {
			t.Fatalf("after the refused query: %s %s; want its complete", m.Type, m.ID)
		}
		c.WriteJSON(wsMessage{ID: "m", Type: "subscribe", Payload: json.RawMessage(`{"query":"{ models }"}`)})
		if m := readMessage(t, c); m.Type != "next" || !strings.Contains(string(m.Payload), "storyteller") {
			t.Errorf("a public query over the socket: %s %s", m.Type, m.Payload)
		}
	})

	t.Run("revoking the token ends subscriptions and closes 4401", func(t *testing.T) {
		var made struct {
			CreateAPIToken struct {
				Token    string
				APIToken struct{ ID string } `json:"apiToken"`
			} `json:"createApiToken"`
		}
		s.mustGQL(`mutation { createApiToken(input: {name: "socket"}) { token apiToken { id } } }`, nil, &made)
		c := wsInit(t, s, `{"authorization":"Bearer `+made.CreateAPIToken.Token+`"}`)
		if m := readMessage(t, c); m.Type != "connection_ack" {
			t.Fatalf("got %s, want connection_ack", m.Type)
		}
		payload, _ := json.Marshal(map[string]any{"query": streamQuery, "variables": map[string]any{"id": st.ID}})
		c.WriteJSON(wsMessage{ID: "1", Type: "subscribe", Payload: payload})
		if m := readMessage(t, c); m.Type != "next" {
			t.Fatalf("got %s, want the first event", m.Type)
		}
		s.mustGQL(`mutation($id: ID!) { revokeApiToken(id: $id) { id } }`, map[string]any{"id": made.CreateAPIToken.APIToken.ID}, nil)
		if code := closeCode(t, c, 10*time.Second); code != 4401 {
			t.Errorf("after revocation the socket closed with %d, want 4401", code)
		}
	})

	t.Run("signing out closes the cookie's socket", func(t *testing.T) {
		cookie, errs := s.signIn("admin@example.com", testPassword)
		if cookie == nil {
			t.Fatalf("signIn: %v", errs)
		}
		h := http.Header{}
		h.Set("Cookie", cookie.Name+"="+cookie.Value)
		d := gws.Dialer{Subprotocols: []string{"graphql-ws"}, HandshakeTimeout: 5 * time.Second}
		c, _, err := d.Dial("ws"+strings.TrimPrefix(s.base, "http")+"/graphql", h)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.WriteJSON(wsMessage{Type: "connection_init", Payload: json.RawMessage(`{}`)})
		if m := readMessage(t, c); m.Type != "connection_ack" {
			t.Fatalf("got %s, want connection_ack", m.Type)
		}
		payload, _ := json.Marshal(map[string]any{"query": streamQuery, "variables": map[string]any{"id": st.ID}})
		c.WriteJSON(wsMessage{ID: "1", Type: "start", Payload: payload})
		for m := readMessage(t, c); m.Type != "data"; m = readMessage(t, c) {
			if m.Type == "error" {
				t.Fatalf("the cookie's subscription failed: %s", m.Payload)
			}
		}
		if errs := s.withCookie(cookie, `mutation { signOut }`, nil, nil); len(errs) > 0 {
			t.Fatal(errs)
		}
		if code := closeCode(t, c, 10*time.Second); code != 4401 {
			t.Errorf("after signOut the socket closed with %d, want 4401", code)
		}
	})
}

func TestShareLinks(t *testing.T) {
	s := start(t, map[string]string{"STORYTELLER_TOKENS_PER_SECOND": "20", "STORYBOT_AUTH_RECHECK": "200ms"})
	st := s.generate("A map of a city that moves at night", 4000)
	other := s.generate("A prompt nobody shares", 5)
	var shared struct{ ShareStory struct{ ShareToken string } }
	s.mustGQL(`mutation($id: ID!) { shareStory(id: $id) { shareToken } }`, map[string]any{"id": st.ID}, &shared)
	token := shared.ShareStory.ShareToken
	if len(token) < 40 {
		t.Fatalf("share token %q is too short to be unguessable", token)
	}
	var again struct{ ShareStory struct{ ShareToken string } }
	s.mustGQL(`mutation($id: ID!) { shareStory(id: $id) { shareToken } }`, map[string]any{"id": st.ID}, &again)
	if again.ShareStory.ShareToken != token {
		t.Errorf("sharing a shared story changed its token")
	}

	// Anyone with the token reads the story and its prompt, and of the
	// prompt's stories only that one.
	anon := s.as("")
	var read struct {
		SharedStory *struct {
			ID     string
			Prompt struct {
				Content string
				Stories struct {
					TotalCount int
					Edges      []struct{ Node struct{ ID string } }
				}
			}
		}
	}
	anon.mustGQL(`query($t: String!) { sharedStory(token: $t) { id prompt { content stories { totalCount edges { node { id } } } } } }`, map[string]any{"t": token}, &read)
	if read.SharedStory == nil || read.SharedStory.ID != st.ID || read.SharedStory.Prompt.Content != "A map of a city that moves at night" {
		t.Fatalf("sharedStory: %+v", read.SharedStory)
	}
	if n := read.SharedStory.Prompt.Stories.TotalCount; n != 1 || read.SharedStory.Prompt.Stories.Edges[0].Node.ID != st.ID {
		t.Errorf("a shared story's prompt lists %d stories (%+v); want only the shared one", n, read.SharedStory.Prompt.Stories)
	}
	// The token opens nothing else: not another story, not by node.
	if errs := anon.gql(`query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": other.ID}, nil); code(errs) != "UNAUTHENTICATED" {
		t.Errorf("node without credentials: %v; want UNAUTHENTICATED", errs)
	}
	var wrong struct{ SharedStory *struct{ ID string } }
	anon.mustGQL(`{ sharedStory(token: "sbl_nothing") { id } }`, nil, &wrong)
	if wrong.SharedStory != nil {
		t.Errorf("a made-up token shares %+v", wrong.SharedStory)
	}

	// A signed-out reader follows the story live, read-only, on both
	// websocket protocols and SSE; the token opens only its own story.
	const sharedStream = `subscription($id: ID!, $t: String) { storyStream(storyID: $id, shareToken: $t) { delta status } }`
	c := dial(t, anon, "graphql-transport-ws")
	c.WriteJSON(wsMessage{Type: "connection_init", Payload: json.RawMessage(`{}`)})
	if m := readMessage(t, c); m.Type != "connection_ack" {
		t.Fatalf("got %s", m.Type)
	}
	payload, _ := json.Marshal(map[string]any{"query": sharedStream, "variables": map[string]any{"id": other.ID, "t": token}})
	c.WriteJSON(wsMessage{ID: "wrong", Type: "subscribe", Payload: payload})
	if m := readMessage(t, c); !strings.Contains(string(m.Payload), `"NOT_FOUND"`) || strings.Contains(string(m.Payload), `"delta"`) {
		t.Errorf("the token on another story: %s %s; want a NOT_FOUND error", m.Type, m.Payload)
	} else if m.Type == "next" {
		if m := readMessage(t, c); m.Type != "complete" {
			t.Errorf("after the error: %s, want complete", m.Type)
		}
	}
	payload, _ = json.Marshal(map[string]any{"query": sharedStream, "variables": map[string]any{"id": st.ID, "t": token}})
	c.WriteJSON(wsMessage{ID: "1", Type: "subscribe", Payload: payload})
	if m := readMessage(t, c); m.Type != "next" || strings.Contains(string(m.Payload), "errors") {
		t.Fatalf("a shared stream: %s %s", m.Type, m.Payload)
	}
	// Writing is still the owner's alone.
	if errs := anon.gql(`mutation($id: ID!) { cancelStory(id: $id) { id } }`, map[string]any{"id": st.ID}, nil); code(errs) != "UNAUTHENTICATED" {
		t.Errorf("cancelStory with only the share link: %v", errs)
	}

	// Unsharing ends the stream and the link.
	s.mustGQL(`mutation($id: ID!) { unshareStory(id: $id) { shareToken } }`, map[string]any{"id": st.ID}, nil)
	deadline := time.Now().Add(10 * time.Second)
	ended := false
	for !ended && time.Now().Before(deadline) {
		switch m := readMessage(t, c); m.Type {
		case "complete":
			ended = m.ID == "1"
		case "next", "ping", "pong", "ka":
		default:
			t.Fatalf("unexpected %s %s", m.Type, m.Payload)
		}
	}
	if !ended {
		t.Error("the shared stream did not end after unshareStory")
	}
	anon.mustGQL(`query($t: String!) { sharedStory(token: $t) { id } }`, map[string]any{"t": token}, &wrong)
	if wrong.SharedStory != nil {
		t.Error("the link still works after unshareStory")
	}
	s.mustGQL(`mutation($id: ID!) { cancelStory(id: $id) { id } }`, map[string]any{"id": st.ID}, nil)
}

func TestModelAllowList(t *testing.T) {
	s := start(t, nil)
	var m struct{ Models []string }
	s.as("").mustGQL(`{ models }`, nil, &m)
	if len(m.Models) != 1 || m.Models[0] != "storyteller" {
		t.Fatalf("models: %v; want the offline storyteller alone", m.Models)
	}
	var p struct{ CreatePrompt struct{ ID string } }
	s.mustGQL(`mutation { createPrompt(input: {content: "A model nobody allowed"}) { id } }`, nil, &p)
	errs := s.gql(`mutation($p: ID!) { generateStory(input: {promptID: $p, model: "gpt-4-expensive"}) { id } }`, map[string]any{"p": p.CreatePrompt.ID}, nil)
	if code(errs) != "BAD_USER_INPUT" || !strings.Contains(errs[0].Message, "storyteller") {
		t.Errorf("an unlisted model: %v; want BAD_USER_INPUT naming the allowed ones", errs)
	}
	var list struct{ Stories struct{ TotalCount int } }
	s.mustGQL(`{ stories { totalCount } }`, nil, &list)
	if list.Stories.TotalCount != 0 {
		t.Errorf("a refused generateStory stored %d stories", list.Stories.TotalCount)
	}
}

func TestQuotasAcrossReplicas(t *testing.T) {
	dsn := dbtest.PostgresURL(t)
	env := map[string]string{
		"DATABASE_URL": dsn, "STORYTELLER_TOKENS_PER_SECOND": "40",
		"STORY_USER_DAILY_TOKENS": "130", "STORY_USER_MAX_RUNNING": "2",
	}
	a := start(t, env)
	b := launch(t, env).as(a.token)
	var p struct{ CreatePrompt struct{ ID string } }
	a.mustGQL(`mutation { createPrompt(input: {content: "Quota"}) { id } }`, nil, &p)
	gen := func(s *server, maxTokens int) (storedStory, []gqlError) {
		var out struct{ GenerateStory storedStory }
		errs := s.gql(`mutation($p: ID!, $n: Int) { generateStory(input: {promptID: $p, maxTokens: $n}) { `+storyFields+` } }`,
			map[string]any{"p": p.CreatePrompt.ID, "n": maxTokens}, &out)
		return out.GenerateStory, errs
	}

	// Two stories run at once, one per replica; a third is refused on
	// either, before anything starts.
	first, errs := gen(a, 60)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	second, errs := gen(b, 60)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if _, errs := gen(a, 5); code(errs) != "QUOTA_EXCEEDED" {
		t.Errorf("a third running story: %v; want QUOTA_EXCEEDED", errs)
	}
	a.waitFor(first.ID, func(s storedStory) bool { return s.Status == "COMPLETED" })
	b.waitFor(second.ID, func(s storedStory) bool { return s.Status == "COMPLETED" })

	// 130 tokens a day: two stories of 60 and their prompts (1 token each)
	// leave 8, so the next story is cut at its quota: FAILED, text kept.
	third, errs := gen(b, 100)
	if len(errs) > 0 {
		t.Fatalf("a story with some quota left: %v", errs)
	}
	cut := b.waitFor(third.ID, func(s storedStory) bool { return s.Status != "PENDING" && s.Status != "GENERATING" })
	if cut.Status != "FAILED" || cut.Error == nil || !strings.Contains(*cut.Error, "daily token limit") || cut.Text == "" || cut.TokenCount == 0 {
		t.Errorf("a story that reached the limit: %+v; want FAILED with the reason and its text kept", cut)
	}
	if _, errs := gen(a, 5); code(errs) != "QUOTA_EXCEEDED" {
		t.Errorf("a story after the day's quota is spent: %v; want QUOTA_EXCEEDED", errs)
	}
	var v struct {
		Viewer struct {
			Usage struct {
				TokensToday     int
				DailyTokenLimit *int
				StoriesRunning  int
			}
		}
	}
	b.mustGQL(`{ viewer { usage { tokensToday dailyTokenLimit storiesRunning } } }`, nil, &v)
	if u := v.Viewer.Usage; u.TokensToday < 125 || u.TokensToday > 130 || u.DailyTokenLimit == nil || *u.DailyTokenLimit != 130 || u.StoriesRunning != 0 {
		t.Errorf("usage %+v; want about 130 of 130 tokens, none running", u)
	}

	// An admin may give a user more.
	var me struct{ Viewer struct{ ID string } }
	a.mustGQL(`{ viewer { id } }`, nil, &me)
	a.mustGQL(`mutation($u: ID!) { setDailyTokenLimit(userID: $u, limit: 1000) { id } }`, map[string]any{"u": me.Viewer.ID}, nil)
	if _, errs := gen(b, 5); len(errs) > 0 {
		t.Errorf("after the admin raised the limit: %v", errs)
	}
}

func TestCrossSiteRequestsAreRefused(t *testing.T) {
	s := start(t, nil)
	cookie, errs := s.signIn("admin@example.com", testPassword)
	if cookie == nil {
		t.Fatal(errs)
	}
	// A page elsewhere can send "simple" requests with the cookie: a form
	// post or text/plain. None may run a mutation.
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
		req, _ := http.NewRequest(http.MethodPost, s.base+"/graphql",
			strings.NewReader(`{"query":"mutation { createPrompt(input: {content: \"forged\"}) { id } }"}`))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Origin", "https://evil.example")
		req.AddCookie(cookie)
		resp, raw := s.as("").send(req)
		if resp.StatusCode < 400 {
			t.Errorf("a cross-site %s POST: %d %s; want it refused", ct, resp.StatusCode, raw)
		}
	}
	// GET runs queries only.
	resp, _ := s.get(`/graphql?query=`+strings.ReplaceAll(`mutation { createPrompt(input: {content: "forged"}) { id } }`, " ", "%20"), nil)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("a GET mutation: %d, want 405", resp.StatusCode)
	}
	var list struct{ Prompts struct{ TotalCount int } }
	s.mustGQL(`{ prompts { totalCount } }`, nil, &list)
	if list.Prompts.TotalCount != 0 {
		t.Errorf("cross-site requests created %d prompts", list.Prompts.TotalCount)
	}
}

func TestSignInIsSlowedForGuessers(t *testing.T) {
	s := launch(t, map[string]string{"SIGNIN_RATE_PER_MINUTE": "6"})
	if c, errs := s.signUp("victim@example.com", testPassword); c == nil {
		t.Fatal(errs)
	}
	// Per client: a few tries, then RATE_LIMITED with retryAfter, even for
	// the right password.
	var limited []gqlError
	for i := 0; i < 10 && limited == nil; i++ {
		if _, errs := s.signIn("victim@example.com", "guess-"+strings.Repeat("x", i)); code(errs) == "RATE_LIMITED" {
			limited = errs
		}
	}
	if limited == nil {
		t.Fatal("ten wrong passwords in a row were never rate limited")
	}
	if ra, _ := limited[0].Extensions["retryAfter"].(float64); ra < 1 {
		t.Errorf("RATE_LIMITED without retryAfter: %v", limited)
	}
	if c, errs := s.signIn("victim@example.com", testPassword); c != nil || code(errs) != "RATE_LIMITED" {
		t.Errorf("the right password while rate limited: %v", errs)
	}
}

func TestPerAccountSignInLimit(t *testing.T) {
	// No per-client limit: the account's own limit must hold, from
	// whatever address the guesses come.
	s := launch(t, map[string]string{"SIGNIN_RATE_PER_MINUTE": "0"})
	if c, errs := s.signUp("victim@example.com", testPassword); c == nil {
		t.Fatal(errs)
	}
	limited := false
	for i := 0; i < 12 && !limited; i++ {
		_, errs := s.signIn("victim@example.com", "wrong password "+strings.Repeat("y", i))
		limited = code(errs) == "RATE_LIMITED"
	}
	if !limited {
		t.Error("guesses at one account were never slowed")
	}
	// Another account is not affected.
	if c, _ := s.signUp("bystander@example.com", testPassword); c == nil {
		t.Fatal("signUp failed")
	}
	if c, errs := s.signIn("bystander@example.com", testPassword); c == nil {
		t.Errorf("another account was slowed too: %v", errs)
	}
}

func TestLogsCarryNoSecrets(t *testing.T) {
	s := launch(t, map[string]string{"LOG_LEVEL": "debug"})
	cookie, _ := s.signUp("ada@example.com", testPassword)
	if cookie == nil {
		t.Fatal("signUp failed")
	}
	again, _ := s.signIn("ada@example.com", testPassword)
	s.signIn("ada@example.com", "a wrong password")
	var made struct {
		CreateAPIToken struct{ Token string } `json:"createApiToken"`
	}
	if errs := s.withCookie(again, `mutation { createApiToken(input: {name: "logs"}) { token } }`, nil, &made); len(errs) > 0 {
		t.Fatal(errs)
	}
	api := s.as(made.CreateAPIToken.Token)
	var p struct{ CreatePrompt struct{ ID string } }
	api.mustGQL(`mutation { createPrompt(input: {content: "secrets"}) { id } }`, nil, &p)
	var sh struct{ ShareStory struct{ ShareToken string } }
	st := api.generate("A story to share", 5)
	api.mustGQL(`mutation($id: ID!) { shareStory(id: $id) { shareToken } }`, map[string]any{"id": st.ID}, &sh)
	api.as("sbt_"+strings.Repeat("Z", 43)).post("/graphql", "application/json", `{"query":"{ viewer { id } }"}`)
	s.withCookie(again, `mutation { signOut }`, nil, nil)

	logs := s.out.String()
	if !strings.Contains(logs, `"user.id"`) {
		t.Error("the logs name no user.id")
	}
	for what, secret := range map[string]string{
		"password": testPassword, "wrong password": "a wrong password", "session cookie": cookie.Value,
		"second session": again.Value, "API token": made.CreateAPIToken.Token, "share token": sh.ShareStory.ShareToken,
		"forged token": strings.Repeat("Z", 43),
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain the %s", what)
		}
	}
}

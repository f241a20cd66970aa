package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/oauth2-proxy/mockoidc"
	"golang.org/x/oauth2"

	"github.com/storybot/storybot/ent"
	_ "github.com/storybot/storybot/ent/runtime"
	"github.com/storybot/storybot/ent/user"
	"github.com/storybot/storybot/internal/database/dbtest"
	"github.com/storybot/storybot/internal/viewer"
)

// oidcFixture is storybot's accounts behind a test server, signing people
// in with a real OpenID provider (mockoidc) on another port.
type oidcFixture struct {
	mock     *mockoidc.MockOIDC
	oidc     *OIDC
	accounts *Accounts
	client   *ent.Client
	site     *httptest.Server
	logs     *oidcLogs

	mu         sync.Mutex
	authorizes []url.Values // the queries that reached the provider's authorization endpoint
	userInfos  atomic.Int32 // calls of the provider's UserInfo endpoint
}

// oidcLogs collects the log lines of a fixture.
type oidcLogs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *oidcLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *oidcLogs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// notContains fails t when a secret shows up in the logs.
func (l *oidcLogs) notContains(t *testing.T, what, secret string) {
	t.Helper()
	if secret != "" && strings.Contains(l.String(), secret) {
		t.Errorf("the logs contain the %s:\n%s", what, l.String())
	}
}

// oidcLanding is what the site's pages outside /auth/oidc answer: where
// the browser ended up and who it is there.
type oidcLanding struct {
	Path, Query, User string
}

// newOIDCFixture starts a provider and a storybot site that signs in with
// it; the site's public URL is set when publicURL is true, else derived
// from each request.
func newOIDCFixture(t *testing.T, publicURL bool) *oidcFixture {
	t.Helper()
	ctx := context.Background()
	f := &oidcFixture{logs: &oidcLogs{}}

	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	err = m.AddMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case mockoidc.AuthorizationEndpoint:
				f.mu.Lock()
				f.authorizes = append(f.authorizes, r.URL.Query())
				f.mu.Unlock()
			case mockoidc.UserinfoEndpoint:
				f.userInfos.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	f.mock = m

	mux := http.NewServeMux()
	f.site = httptest.NewServer(mux)
	t.Cleanup(f.site.Close)
	t.Cleanup(http.DefaultTransport.(*http.Transport).CloseIdleConnections)

	logger := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := OIDCConfig{IssuerURL: m.Issuer(), ClientID: m.ClientID, ClientSecret: m.ClientSecret, Logger: logger}
	if publicURL {
		cfg.PublicURL = f.site.URL + "/"
	}
	f.oidc, err = NewOIDC(ctx, cfg)
	if err != nil {
		t.Fatalf("NewOIDC: %v", err)
	}
	db := dbtest.Open(t, dialect.SQLite)
	f.client = db.Client
	f.accounts = New(db.Client, Config{
		Argon2:  Argon2Params{Time: 1, Memory: 8 * 1024, Threads: 1, SaltLen: 16, KeyLen: 32},
		OIDC:    f.oidc,
		Dialect: dialect.SQLite,
		Logger:  logger,
	})
	mux.Handle(OIDCPath, f.accounts.Middleware(f.oidc.Handler(f.accounts)))
	mux.Handle("/", f.accounts.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := oidcLanding{Path: r.URL.Path, Query: r.URL.RawQuery}
		if v := viewer.FromContext(r.Context()); v != nil {
			l.User = string(v.UserID)
		}
		_ = json.NewEncoder(w).Encode(l)
	})))
	return f
}

// browser is an HTTP client with a cookie jar that follows redirects.
func (f *oidcFixture) browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

// signIn goes through the whole flow in b, from the login link with next
// to the page the browser lands on.
func (f *oidcFixture) signIn(t *testing.T, b *http.Client, next string) (oidcLanding, *url.URL) {
	t.Helper()
	resp, err := b.Get(f.site.URL + oidcLoginPath + "?next=" + url.QueryEscape(next))
	if err != nil {
		t.Fatalf("signing in: %v", err)
	}
	defer resp.Body.Close()
	var l oidcLanding
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("signing in ended with %s at %s", resp.Status, resp.Request.URL)
	}
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		t.Fatalf("signing in ended at %s, not on the site: %v", resp.Request.URL, err)
	}
	return l, resp.Request.URL
}

// cookie returns b's cookie named name for path on the site.
func (f *oidcFixture) cookie(b *http.Client, path, name string) *http.Cookie {
	u, _ := url.Parse(f.site.URL + path)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// lastAuthorize returns the query of the last request that reached the
// provider's authorization endpoint.
func (f *oidcFixture) lastAuthorize(t *testing.T) url.Values {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.authorizes) == 0 {
		t.Fatal("no request reached the provider's authorization endpoint")
	}
	return f.authorizes[len(f.authorizes)-1]
}

// userBySubject returns the account linked to the provider's subject sub.
func (f *oidcFixture) userBySubject(t *testing.T, sub string) *ent.User {
	t.Helper()
	u, err := f.client.User.Query().
		Where(user.OidcIssuer(f.mock.Issuer()), user.OidcSubject(sub)).
		Only(viewer.System(context.Background()))
	if err != nil {
		t.Fatalf("the account of subject %q: %v", sub, err)
	}
	return u
}

// users counts the accounts.
func (f *oidcFixture) users(t *testing.T) int {
	t.Helper()
	n, err := f.client.User.Query().Count(viewer.System(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOIDCDiscovery(t *testing.T) {
	f := newOIDCFixture(t, false)
	ctx := context.Background()
	if got, want := f.oidc.Name(), "127.0.0.1"; got != want {
		t.Errorf("Name() = %q, want the issuer's host %q", got, want)
	}
	if got, want := f.oidc.oauth.Endpoint.AuthURL, f.mock.AuthorizationEndpoint(); got != want {
		t.Errorf("authorization endpoint = %q, want %q (from discovery)", got, want)
	}
	if got, want := f.oidc.oauth.Endpoint.TokenURL, f.mock.TokenEndpoint(); got != want {
		t.Errorf("token endpoint = %q, want %q (from discovery)", got, want)
	}
	if got, want := f.oidc.provider.UserInfoEndpoint(), f.mock.UserinfoEndpoint(); got != want {
		t.Errorf("UserInfo endpoint = %q, want %q (from discovery)", got, want)
	}

	named, err := NewOIDC(ctx, OIDCConfig{IssuerURL: f.mock.Issuer(), ClientID: "c", Name: "Example SSO"})
	if err != nil {
		t.Fatal(err)
	}
	if named.Name() != "Example SSO" {
		t.Errorf("Name() = %q, want the configured %q", named.Name(), "Example SSO")
	}

	notOIDC := httptest.NewServer(http.NotFoundHandler())
	defer notOIDC.Close()
	for _, tc := range []struct {
		name string
		cfg  OIDCConfig
	}{
		{"no issuer", OIDCConfig{ClientID: "c"}},
		{"no client ID", OIDCConfig{IssuerURL: f.mock.Issuer()}},
		{"not a URL", OIDCConfig{IssuerURL: "accounts.example.com", ClientID: "c"}},
		{"no discovery document", OIDCConfig{IssuerURL: notOIDC.URL, ClientID: "c"}},
		{"public URL with a query", OIDCConfig{IssuerURL: f.mock.Issuer(), ClientID: "c", PublicURL: "https://storybot.example.com/?a=b"}},
		{"public URL without a scheme", OIDCConfig{IssuerURL: f.mock.Issuer(), ClientID: "c", PublicURL: "storybot.example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if o, err := NewOIDC(ctx, tc.cfg); err == nil {
				t.Errorf("NewOIDC(%+v) = %v, want an error", tc.cfg, o)
			}
		})
	}
	t.Run("issuer mismatch", func(t *testing.T) {
		_, err := NewOIDC(ctx, OIDCConfig{IssuerURL: f.mock.Issuer() + "/", ClientID: "c"})
		var mismatch *oidc.IssuerMismatchError
		if !errors.As(err, &mismatch) {
			t.Errorf("NewOIDC with the issuer plus a slash = %v, want an IssuerMismatchError", err)
		}
	})
}

func TestOIDCSignIn(t *testing.T) {
	for _, publicURL := range []bool{false, true} {
		name := "redirect URL from the request"
		if publicURL {
			name = "redirect URL from PublicURL"
		}
		t.Run(name, func(t *testing.T) {
			f := newOIDCFixture(t, publicURL)
			ctx := context.Background()
			b := f.browser(t)

			f.mock.QueueUser(&mockoidc.MockUser{Subject: "ada-sub", Email: "Ada@Example.com", EmailVerified: true, PreferredUsername: "ada"})
			f.mock.QueueCode("code-of-ada-first-sign-in")
			l, at := f.signIn(t, b, "/stories/42?tab=2")
			if at.Host != strings.TrimPrefix(f.site.URL, "http://") || l.Path != "/stories/42" || l.Query != "tab=2" {
				t.Errorf("landed on %s (%+v), want the site's /stories/42?tab=2", at, l)
			}
			if l.User == "" {
				t.Fatal("landed signed out")
			}

			q := f.lastAuthorize(t)
			if got, want := q.Get("redirect_uri"), f.site.URL+oidcCallbackPath; got != want {
				t.Errorf("redirect_uri = %q, want %q", got, want)
			}
			if got, want := q.Get("scope"), "openid email profile"; got != want {
				t.Errorf("scope = %q, want %q", got, want)
			}
			if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 {
				t.Errorf("PKCE: code_challenge_method=%q code_challenge=%q, want S256 and a SHA-256", q.Get("code_challenge_method"), q.Get("code_challenge"))
			}
			if len(q.Get("state")) < 26 || len(q.Get("nonce")) < 26 || q.Get("state") == q.Get("nonce") {
				t.Errorf("state=%q nonce=%q, want two different random values", q.Get("state"), q.Get("nonce"))
			}
			if c := f.cookie(b, oidcCallbackPath, oidcFlowCookie); c != nil {
				t.Errorf("the flow cookie outlived the callback: %v", c)
			}

			session := f.cookie(b, "/", SessionCookie)
			if session == nil {
				t.Fatal("no session cookie after signing in")
			}
			v, err := f.accounts.Authenticate(ctx, session.Value)
			if err != nil {
				t.Fatalf("Authenticate(session cookie): %v", err)
			}
			if v.Method != viewer.MethodSession || string(v.UserID) != l.User {
				t.Errorf("the session cookie is %+v, want a session of %s", v, l.User)
			}
			u := f.userBySubject(t, "ada-sub")
			if string(u.ID) != l.User || u.Email != "ada@example.com" || u.Name == nil || *u.Name != "ada" || u.Role != user.RoleAdmin {
				t.Errorf("account = %+v, want %s, ada@example.com named ada, the first one so ADMIN", u, l.User)
			}

			// Signing in again, in the same browser and in another, is
			// the same account, found by issuer and subject (even when
			// the provider's email changed).
			f.mock.QueueUser(&mockoidc.MockUser{Subject: "ada-sub", Email: "ada@new.example.com", EmailVerified: true})
			again, _ := f.signIn(t, b, "/")
			if again.User != l.User || again.Path != "/" {
				t.Errorf("second sign-in landed on %+v, want %s on /", again, l.User)
			}
			if _, err := f.accounts.Authenticate(ctx, session.Value); !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("the first session after signing in again: %v, want it ended (sessions rotate)", err)
			}
			f.mock.QueueUser(&mockoidc.MockUser{Subject: "ada-sub", Email: "ada@example.com", EmailVerified: true})
			elsewhere, _ := f.signIn(t, f.browser(t), "")
			if elsewhere.User != l.User {
				t.Errorf("sign-in from another browser is %q, want %s", elsewhere.User, l.User)
			}

			// Another person gets another account.
			f.mock.QueueUser(&mockoidc.MockUser{Subject: "bob-sub", Email: "bob@example.com", EmailVerified: true})
			bob, _ := f.signIn(t, f.browser(t), "/")
			if bob.User == "" || bob.User == l.User {
				t.Errorf("bob signed in as %q, want an account of his own", bob.User)
			}
			if n := f.users(t); n != 2 {
				t.Errorf("%d accounts, want 2", n)
			}

			f.logs.notContains(t, "authorization code", "code-of-ada-first-sign-in")
			f.logs.notContains(t, "session token", session.Value)
			f.logs.notContains(t, "state", q.Get("state"))
		})
	}
}

func TestOIDCLoginNext(t *testing.T) {
	for _, tc := range []struct{ next, want string }{
		{"", "/"},
		{"/", "/"},
		{"/stories/42", "/stories/42"},
		{"/stories/42?tab=2#end", "/stories/42?tab=2#end"},
		{"/%2F%2Fevil.example", "/%2F%2Fevil.example"},
		{"https://evil.example/steal", "/"},
		{"http://evil.example", "/"},
		{"//evil.example/steal", "/"},
		{"///evil.example", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{" /evil", "/"},
		{"javascript:alert(1)", "/"},
		{"evil.example", "/"},
		{"stories/42", "/"},
		{"/" + strings.Repeat("a", 3000), "/"},
	} {
		if got := localPath(tc.next); got != tc.want {
			t.Errorf("localPath(%q) = %q, want %q", tc.next, got, tc.want)
		}
	}

	// Through the whole flow: another site's address lands on the home
	// page of this one.
	f := newOIDCFixture(t, false)
	for _, next := range []string{"https://evil.example/steal", "//evil.example/steal", "/\\evil.example"} {
		l, at := f.signIn(t, f.browser(t), next)
		if at.Host != strings.TrimPrefix(f.site.URL, "http://") || l.Path != "/" || l.User == "" {
			t.Errorf("with next=%q, landed on %s (%+v), want this site's / signed in", next, at, l)
		}
	}
}

// oidcStep is a request of a sign-in made by hand: no cookie jar, no
// redirects followed.
func oidcStep(t *testing.T, u string, cookies ...*http.Cookie) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// beginFlow starts a sign-in by hand and takes it to the provider and back
// to the callback's door: it returns the callback URL the provider sent
// the browser to, and the flow cookie the login set.
func (f *oidcFixture) beginFlow(t *testing.T, next string) (callback *url.URL, flow *http.Cookie) {
	t.Helper()
	resp := oidcStep(t, f.site.URL+oidcLoginPath+"?next="+url.QueryEscape(next))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("login: %s, want 302", resp.Status)
	}
	for _, c := range resp.Cookies() {
		if c.Name == oidcFlowCookie {
			flow = c
		}
	}
	if flow == nil {
		t.Fatal("login set no flow cookie")
	}
	toProvider := resp.Header.Get("Location")
	if !strings.HasPrefix(toProvider, f.mock.AuthorizationEndpoint()+"?") {
		t.Fatalf("login redirected to %q, want the provider's authorization endpoint", toProvider)
	}
	resp = oidcStep(t, toProvider)
	callback, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("the provider answered %s to %q, want a redirect", resp.Status, resp.Header.Get("Location"))
	}
	return callback, &http.Cookie{Name: flow.Name, Value: flow.Value}
}

// withQuery returns u with the query q.
func withQuery(u *url.URL, q url.Values) string {
	v := *u
	v.RawQuery = q.Encode()
	return v.String()
}

func TestOIDCLoginCookie(t *testing.T) {
	f := newOIDCFixture(t, false)
	resp := oidcStep(t, f.site.URL+oidcLoginPath)
	var flow *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == oidcFlowCookie {
			flow = c
		}
	}
	if flow == nil {
		t.Fatal("login set no flow cookie")
	}
	// Plain HTTP to 127.0.0.1: the one case without Secure.
	if !flow.HttpOnly || flow.Secure || flow.SameSite != http.SameSiteLaxMode || flow.Path != "/auth/oidc" || flow.MaxAge != 600 {
		t.Errorf("flow cookie = %+v, want HttpOnly, SameSite=Lax, Path=/auth/oidc, Max-Age=600, not Secure on plain localhost", flow)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}

	// Anywhere but plain-HTTP localhost, the cookie is Secure.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "https://storybot.example.com"+oidcLoginPath, nil)
	f.accounts.Middleware(f.oidc.Handler(f.accounts)).ServeHTTP(rec, req)
	found := false
	for _, c := range rec.Result().Cookies() {
		if c.Name == oidcFlowCookie {
			found = true
			if !c.Secure {
				t.Errorf("flow cookie over HTTPS = %+v, want Secure", c)
			}
		}
	}
	if !found {
		t.Error("login over HTTPS set no flow cookie")
	}
	if loc := rec.Header().Get("Location"); !strings.Contains(loc, "redirect_uri="+url.QueryEscape("https://storybot.example.com"+oidcCallbackPath)) {
		t.Errorf("login over HTTPS redirected to %q, want redirect_uri https://storybot.example.com%s", loc, oidcCallbackPath)
	}
}

func TestOIDCCallbackRefused(t *testing.T) {
	// alter returns the flow cookie with one field changed.
	alter := func(t *testing.T, c *http.Cookie, change func(*oidcFlow)) *http.Cookie {
		t.Helper()
		fl, err := decodeFlow(c.Value)
		if err != nil {
			t.Fatal(err)
		}
		change(fl)
		return &http.Cookie{Name: c.Name, Value: fl.encode()}
	}
	for _, tc := range []struct {
		name string
		// callback returns the callback URL to visit and the cookies to
		// send, given a sign-in brought to the callback's door.
		callback func(t *testing.T, cb *url.URL, flow *http.Cookie) (string, []*http.Cookie)
		want     string
	}{
		{"state mismatch", func(t *testing.T, cb *url.URL, flow *http.Cookie) (string, []*http.Cookie) {
			q := cb.Query()
			q.Set("state", "not-the-state-of-this-sign-in")
			return withQuery(cb, q), []*http.Cookie{flow}
		}, "state"},
		{"no state", func(t *testing.T, cb *url.URL, flow *http.Cookie) (string, []*http.Cookie) {
			q := cb.Query()
			q.Del("state")
			return withQuery(cb, q), []*http.Cookie{flow}
		}, "state"},
		{"no flow cookie", func(t *testing.T, cb *url.URL, flow *http.Cookie) (string, []*http.Cookie) {
			return cb.String(), nil
		}, "state"},
		{"malformed flow cookie", func(t *testing.T, cb *url.URL, flow *http.Cookie) (string, []*http.Cookie) {
			return cb.String(), []*http.Cookie{{Name: flow.Name, Value: "e30"}} // {}
		}, "state"},
		{"flow cookie of another sign-in", func(t *testing.T, cb *url.URL, flow *http.Cookie) (string, []*http.Cookie) {
			return cb.String(), []*http.Cookie{alter(t, flow, func(fl *oidcFlow) { fl.State = rand32() })}
		}, "state"},
		{"access denied at the provider", func(t *testing.T, cb *url.URL, flow *http.Cookie) (string, []*http.Cookie) {
			return withQuery(cb, url.Values{"error": {"access_denied"}, "state": {cb.Query().Get("state")}}), []*http.Cookie{flow}
		}, "access_denied"},
		{"other provider error", func(t *testing.T, cb *url.URL, flow *http.Cookie) (string, []*http.Cookie) {
			return withQuery(cb, url.Values{"error": {"server_error"}, "state": {cb.Query().Get("state")}}), []*http.Cookie{flow}
		}, "provider"},
		{"no code", func(t *testing.T, cb *url.URL, flow *http.Cookie) (string, []*http.Cookie) {
			q := cb.Query()
			q.Del("code")
			return withQuery(cb, q), []*http.Cookie{flow}
		}, "exchange"},
		{"unknown code", func(t *testing.T, cb *url.URL, flow *http.Cookie) (string, []*http.Cookie) {
			q := cb.Query()
			q.Set("code", "a-code-the-provider-never-gave")
			return withQuery(cb, q), []*http.Cookie{flow}
		}, "exchange"},
		{"wrong PKCE verifier", func(t *testing.T, cb *url.URL, flow *http.Cookie) (string, []*http.Cookie) {
			return cb.String(), []*http.Cookie{alter(t, flow, func(fl *oidcFlow) { fl.Verifier = oauth2.GenerateVerifier() })}
		}, "exchange"},
		{"wrong nonce", func(t *testing.T, cb *url.URL, flow *http.Cookie) (string, []*http.Cookie) {
			return cb.String(), []*http.Cookie{alter(t, flow, func(fl *oidcFlow) { fl.Nonce = rand32() })}
		}, "id_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newOIDCFixture(t, false)
			cb, flow := f.beginFlow(t, "/after")
			u, cookies := tc.callback(t, cb, flow)
			resp := oidcStep(t, u, cookies...)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin?error="+tc.want {
				t.Errorf("callback: %s to %q, want 303 to /signin?error=%s", resp.Status, resp.Header.Get("Location"), tc.want)
			}
			for _, c := range resp.Cookies() {
				if c.Name == SessionCookie {
					t.Errorf("a refused sign-in set the session cookie %v", c)
				}
			}
			if n := f.users(t); n != 0 {
				t.Errorf("%d accounts after a refused sign-in, want 0", n)
			}
			if !strings.Contains(f.logs.String(), "OpenID Connect sign-in failed") {
				t.Errorf("the refusal was not logged:\n%s", f.logs)
			}
			f.logs.notContains(t, "authorization code", cb.Query().Get("code"))
			f.logs.notContains(t, "flow cookie", flow.Value)
		})
	}

	t.Run("flow cookie sending elsewhere", func(t *testing.T) {
		f := newOIDCFixture(t, false)
		cb, flow := f.beginFlow(t, "/after")
		resp := oidcStep(t, cb.String(), alter(t, flow, func(fl *oidcFlow) { fl.Next = "https://evil.example/steal" }))
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Errorf("callback with next=https://evil.example/steal in the cookie: %s to %q, want 303 to /", resp.Status, resp.Header.Get("Location"))
		}
	})

	t.Run("replayed callback", func(t *testing.T) {
		f := newOIDCFixture(t, false)
		cb, flow := f.beginFlow(t, "/after")
		resp := oidcStep(t, cb.String(), flow)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/after" {
			t.Fatalf("callback: %s to %q, want 303 to /after", resp.Status, resp.Header.Get("Location"))
		}
		cleared := false
		for _, c := range resp.Cookies() {
			cleared = cleared || (c.Name == oidcFlowCookie && c.MaxAge < 0)
		}
		if !cleared {
			t.Error("the callback did not clear the flow cookie")
		}
		// An attacker who kept the cookie and the URL gets nowhere: the
		// provider takes a code once.
		resp = oidcStep(t, cb.String(), flow)
		if resp.Header.Get("Location") != "/signin?error=exchange" {
			t.Errorf("replayed callback: %s to %q, want /signin?error=exchange", resp.Status, resp.Header.Get("Location"))
		}
	})
}

func rand32() string { return oauth2.GenerateVerifier()[:32] }

// oidcJWT builds a compact JWS from a header and claims, signed by sign
// (nil: no signature).
func oidcJWT(t *testing.T, header, claims map[string]any, sign func(input []byte) []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	sig := []byte{}
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func rs256(t *testing.T, key *rsa.PrivateKey) func([]byte) []byte {
	return func(input []byte) []byte {
		h := sha256.Sum256(input)
		sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, h[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
}

func hs256(secret []byte) func([]byte) []byte {
	return func(input []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(input)
		return m.Sum(nil)
	}
}

func TestOIDCAccessToken(t *testing.T) {
	f := newOIDCFixture(t, false)
	ctx := context.Background()
	kid, err := f.mock.Keypair.KeyID()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims := func(sub string, change func(map[string]any)) map[string]any {
		c := map[string]any{
			"iss": f.mock.Issuer(), "aud": f.mock.ClientID, "sub": sub,
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
			"email": sub + "@example.com", "email_verified": true, "name": "Grace Hopper",
		}
		if change != nil {
			change(c)
		}
		return c
	}
	header := map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid}
	signed := rs256(t, f.mock.Keypair.PrivateKey)

	t.Run("valid", func(t *testing.T) {
		raw := oidcJWT(t, header, claims("grace", nil), signed)
		v, err := f.accounts.Authenticate(ctx, raw)
		if err != nil {
			t.Fatalf("Authenticate(valid access token): %v", err)
		}
		u := f.userBySubject(t, "grace")
		if v.Method != viewer.MethodOIDC || v.UserID != u.ID || v.CredentialID != "grace" || v.Expiry.Unix() != now.Add(5*time.Minute).Unix() {
			t.Errorf("viewer = %+v, want %s by OIDC, subject grace, expiring with the token", v, u.ID)
		}
		if u.Email != "grace@example.com" || u.Name == nil || *u.Name != "Grace Hopper" {
			t.Errorf("account = %+v, want grace@example.com named Grace Hopper", u)
		}
		// An audience list that includes storybot is fine too.
		raw = oidcJWT(t, header, claims("grace", func(c map[string]any) { c["aud"] = []string{"api", f.mock.ClientID} }), signed)
		if v2, err := f.accounts.Authenticate(ctx, raw); err != nil || v2.UserID != u.ID {
			t.Errorf("Authenticate(audience list with storybot) = %+v, %v; want %s", v2, err, u.ID)
		}
		if n := f.userInfos.Load(); n != 0 {
			t.Errorf("UserInfo called %d times for tokens that carry an email", n)
		}
	})

	otherKey, err := mockoidc.RandomKeypair(2048)
	if err != nil {
		t.Fatal(err)
	}
	otherKid, _ := otherKey.KeyID()
	pkix, err := x509.MarshalPKIXPublicKey(f.mock.Keypair.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	pkcs1 := x509.MarshalPKCS1PublicKey(f.mock.Keypair.PublicKey)
	jwks, err := f.mock.Keypair.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	with := func(h map[string]any, k string, v any) map[string]any {
		c := map[string]any{}
		for k, v := range h {
			c[k] = v
		}
		c[k] = v
		return c
	}
	tampered := func() string {
		parts := strings.Split(oidcJWT(t, header, claims("mallory", nil), signed), ".")
		evil := oidcJWT(t, header, claims("mallory", func(c map[string]any) { c["sub"] = "grace" }), nil)
		return parts[0] + "." + strings.Split(evil, ".")[1] + "." + parts[2]
	}

	for _, tc := range []struct {
		name string
		why  string // in the error
		raw  string
	}{
		{"wrong issuer", `different provider`, oidcJWT(t, header, claims("mallory", func(c map[string]any) { c["iss"] = "https://evil.example/oidc" }), signed)},
		{"wrong audience", `expected audience`, oidcJWT(t, header, claims("mallory", func(c map[string]any) { c["aud"] = "another-client" }), signed)},
		{"no audience", `expected audience`, oidcJWT(t, header, claims("mallory", func(c map[string]any) { delete(c, "aud") }), signed)},
		{"expired", `expired`, oidcJWT(t, header, claims("mallory", func(c map[string]any) {
			c["iat"], c["nbf"], c["exp"] = now.Add(-time.Hour).Unix(), now.Add(-time.Hour).Unix(), now.Add(-time.Minute).Unix()
		}), signed)},
		{"no expiry", `expired`, oidcJWT(t, header, claims("mallory", func(c map[string]any) { delete(c, "exp") }), signed)},
		{"not yet valid", `nbf`, oidcJWT(t, header, claims("mallory", func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }), signed)},
		{"no subject", `no subject`, oidcJWT(t, header, claims("", nil), signed)},
		{"alg none", `unexpected signature algorithm "none"`, oidcJWT(t, map[string]any{"alg": "none", "typ": "JWT"}, claims("mallory", nil), nil)},
		{"alg none with the key ID", `unexpected signature algorithm "none"`, oidcJWT(t, with(header, "alg", "none"), claims("mallory", nil), nil)},
		{"alg none with the real signature", `unexpected signature algorithm "none"`, func() string {
			good := strings.Split(oidcJWT(t, header, claims("mallory", nil), signed), ".")
			none := strings.Split(oidcJWT(t, with(header, "alg", "none"), claims("mallory", nil), nil), ".")
			return none[0] + "." + none[1] + "." + good[2]
		}()},
		{"HS256 keyed with the public key (PEM)", `unexpected signature algorithm "HS256"`, oidcJWT(t, with(header, "alg", "HS256"), claims("mallory", nil), hs256(pemKey))},
		{"HS256 keyed with the public key (DER)", `unexpected signature algorithm "HS256"`, oidcJWT(t, with(header, "alg", "HS256"), claims("mallory", nil), hs256(pkix))},
		{"HS256 keyed with the public key (PKCS1)", `unexpected signature algorithm "HS256"`, oidcJWT(t, with(header, "alg", "HS256"), claims("mallory", nil), hs256(pkcs1))},
		{"HS256 keyed with the JWKS", `unexpected signature algorithm "HS256"`, oidcJWT(t, with(header, "alg", "HS256"), claims("mallory", nil), hs256(jwks))},
		{"tampered payload", `failed to verify`, tampered()},
		{"another key, the provider's key ID", `failed to verify`, oidcJWT(t, header, claims("mallory", nil), rs256(t, otherKey.PrivateKey))},
		{"another key, its own key ID", `failed to verify`, oidcJWT(t, with(header, "kid", otherKid), claims("mallory", nil), rs256(t, otherKey.PrivateKey))},
		{"another key, no key ID", `failed to verify`, oidcJWT(t, map[string]any{"alg": "RS256"}, claims("mallory", nil), rs256(t, otherKey.PrivateKey))},
		{"truncated signature", `failed to verify`, func() string { s := oidcJWT(t, header, claims("mallory", nil), signed); return s[:len(s)-4] }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if id, err := f.oidc.VerifyAccessToken(ctx, tc.raw); err == nil || !strings.Contains(err.Error(), tc.why) {
				t.Errorf("VerifyAccessToken = %+v, %v; want an error about %s", id, err, tc.why)
			}
			if v, err := f.accounts.Authenticate(ctx, tc.raw); !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("Authenticate = %+v, %v; want ErrUnauthenticated", v, err)
			}
			f.logs.notContains(t, "refused token", tc.raw)
		})
	}
	n, err := f.client.User.Query().Where(user.OidcSubjectIn("mallory", "")).Count(viewer.System(ctx))
	if err != nil || n != 0 {
		t.Errorf("%d accounts for refused tokens (%v), want 0", n, err)
	}
}

// TestOIDCAccessTokenUserInfo uses an access token the provider issued
// through the code flow: it carries no email, so storybot asks UserInfo.
func TestOIDCAccessTokenUserInfo(t *testing.T) {
	f := newOIDCFixture(t, false)
	ctx := context.Background()
	client := &oauth2.Config{
		ClientID: f.mock.ClientID, ClientSecret: f.mock.ClientSecret,
		Endpoint:    oauth2.Endpoint{AuthURL: f.mock.AuthorizationEndpoint(), TokenURL: f.mock.TokenEndpoint(), AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: "http://127.0.0.1/callback",
		Scopes:      []string{"openid", "email", "profile"},
	}
	issue := func(u *mockoidc.MockUser, code string) string {
		t.Helper()
		f.mock.QueueUser(u)
		f.mock.QueueCode(code)
		resp := oidcStep(t, client.AuthCodeURL("some-state"))
		cb, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || cb.Query().Get("code") != code {
			t.Fatalf("authorize: %s to %q", resp.Status, resp.Header.Get("Location"))
		}
		tok, err := client.Exchange(ctx, code)
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		return tok.AccessToken
	}
	raw := issue(&mockoidc.MockUser{Subject: "linus", Email: "Linus@Example.com", EmailVerified: true, PreferredUsername: "linus"}, "session-of-linus")

	id, err := f.oidc.VerifyAccessToken(ctx, raw)
	if err != nil {
		t.Fatalf("VerifyAccessToken(the provider's own access token): %v", err)
	}
	// mockoidc's UserInfo says nothing of email_verified: unverified.
	want := Identity{Issuer: f.mock.Issuer(), Subject: "linus", Email: "Linus@Example.com", Name: "linus", Expiry: id.Expiry}
	if *id != want || id.Expiry.Before(time.Now()) {
		t.Errorf("identity = %+v, want %+v with an expiry ahead", *id, want)
	}
	for range 3 {
		v, err := f.accounts.Authenticate(ctx, raw)
		if err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		if u := f.userBySubject(t, "linus"); v.UserID != u.ID || u.Email != "linus@example.com" {
			t.Errorf("viewer %+v, account %+v; want linus@example.com", v, u)
		}
	}
	if n := f.userInfos.Load(); n != 1 {
		t.Errorf("UserInfo called %d times for one token, want 1 (remembered until the token expires)", n)
	}

	// A token naming mallory but bound (jti) to linus's session at the
	// provider: UserInfo answers for linus, which must not be taken for
	// mallory's.
	kid, _ := f.mock.Keypair.KeyID()
	now := time.Now()
	forged := oidcJWT(t, map[string]any{"alg": "RS256", "kid": kid}, map[string]any{
		"iss": f.mock.Issuer(), "aud": f.mock.ClientID, "sub": "mallory", "jti": "session-of-linus",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	}, rs256(t, f.mock.Keypair.PrivateKey))
	if id, err := f.oidc.VerifyAccessToken(ctx, forged); err == nil || !strings.Contains(err.Error(), "UserInfo answered for subject") {
		t.Errorf("VerifyAccessToken(token whose UserInfo is another subject's) = %+v, %v; want refused", id, err)
	}
	f.logs.notContains(t, "access token", raw)
}

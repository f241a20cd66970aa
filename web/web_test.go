package web

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

// testBundle is a small stand-in for what Vite writes to dist/.
func testBundle() fstest.MapFS {
	return fstest.MapFS{
		".keep":                 {},
		"index.html":            {Data: []byte("<!doctype html><html><head>" + emptyMetaTag(urlMeta) + emptyMetaTag(oidcNameMeta) + "<title>app</title></head><body>the app</body></html>")},
		"playground.html":       {Data: []byte("<!doctype html><html><head>" + emptyMetaTag(urlMeta) + "<title>pg</title></head><body>the playground</body></html>")},
		"assets/app-1a2b3c.js":  {Data: []byte("console.log('app')")},
		"assets/app-4d5e6f.css": {Data: []byte("body{margin:0}")},
		"favicon.svg":           {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
	}
}

func serve(h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestRoutes(t *testing.T) {
	h := SecurityHeaders(newHandler(testBundle(), Options{}))
	tests := []struct {
		name       string
		method     string
		target     string
		wantStatus int
		wantCache  string
		wantType   string // a substring of Content-Type
		wantBody   string // a substring of the body
	}{
		{"root serves the app", http.MethodGet, "/", 200, cacheRevalidate, "text/html", "the app"},
		{"index.html serves the app", http.MethodGet, "/index.html", 200, cacheRevalidate, "text/html", "the app"},
		{"unknown path falls back to the app", http.MethodGet, "/prompts/42?story=7", 200, cacheRevalidate, "text/html", "the app"},
		{"path outside the bundle falls back to the app", http.MethodGet, "/assets/../../web.go", 200, cacheRevalidate, "text/html", "the app"},
		{"hashed script is immutable", http.MethodGet, "/assets/app-1a2b3c.js", 200, cacheImmutable, "javascript", "console.log('app')"},
		{"hashed stylesheet is immutable", http.MethodGet, "/assets/app-4d5e6f.css", 200, cacheImmutable, "text/css", "margin:0"},
		{"missing asset is a 404, not the app", http.MethodGet, "/assets/app-000000.js", 404, "", "text/plain", "not found"},
		{"assets directory is not listed", http.MethodGet, "/assets/", 404, "", "text/plain", "not found"},
		{"playground", http.MethodGet, "/playground", 200, cacheRevalidate, "text/html", "the playground"},
		{"playground with a slash", http.MethodGet, "/playground/", 200, cacheRevalidate, "text/html", "the playground"},
		{"playground.html is the playground", http.MethodGet, "/playground.html", 200, cacheRevalidate, "text/html", "the playground"},
		{"other bundle file revalidates", http.MethodGet, "/favicon.svg", 200, cacheRevalidate, "image/svg+xml", "<svg"},
		{"dot files stay hidden", http.MethodGet, "/.keep", 404, "", "text/plain", "not found"},
		{"HEAD has headers and no body", http.MethodHead, "/", 200, cacheRevalidate, "text/html", ""},
		{"HEAD of an asset", http.MethodHead, "/assets/app-1a2b3c.js", 200, cacheImmutable, "javascript", ""},
		{"POST is refused", http.MethodPost, "/", 405, "", "text/plain", "method not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(h, tt.method, tt.target, nil)
			if rec.Code != tt.wantStatus {
				t.Fatalf("%s %s: status %d, want %d", tt.method, tt.target, rec.Code, tt.wantStatus)
			}
			if got := rec.Header().Get("Cache-Control"); got != tt.wantCache {
				t.Errorf("Cache-Control = %q, want %q", got, tt.wantCache)
			}
			if got := rec.Header().Get("Content-Type"); !strings.Contains(got, tt.wantType) {
				t.Errorf("Content-Type = %q, want it to contain %q", got, tt.wantType)
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			body := rec.Body.String()
			if tt.wantBody == "" && body != "" {
				t.Errorf("body = %q, want none", body)
			}
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("body = %q, want it to contain %q", body, tt.wantBody)
			}
		})
	}
}

func TestMethodNotAllowedNamesAllowedMethods(t *testing.T) {
	rec := serve(newHandler(testBundle(), Options{}), http.MethodDelete, "/assets/app-1a2b3c.js", nil)
	if got, want := rec.Header().Get("Allow"), "GET, HEAD"; got != want {
		t.Errorf("Allow = %q, want %q", got, want)
	}
}

func TestDisablePlayground(t *testing.T) {
	h := newHandler(testBundle(), Options{DisablePlayground: true})
	for _, target := range []string{"/playground", "/playground.html"} {
		if rec := serve(h, http.MethodGet, target, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s with the playground disabled: status %d, want 404", target, rec.Code)
		}
	}
	if rec := serve(h, http.MethodGet, "/", nil); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "the app") {
		t.Errorf("GET / with the playground disabled: status %d", rec.Code)
	}
}

func TestPagesRevalidateWithETag(t *testing.T) {
	h := newHandler(testBundle(), Options{})
	for _, target := range []string{"/", "/playground"} {
		first := serve(h, http.MethodGet, target, nil)
		etag := first.Header().Get("ETag")
		if etag == "" {
			t.Fatalf("GET %s: no ETag", target)
		}
		again := serve(h, http.MethodGet, target, http.Header{"If-None-Match": {etag}})
		if again.Code != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match: status %d, want 304", target, again.Code)
		}
	}
	if a, p := serve(h, "GET", "/", nil).Header().Get("ETag"), serve(h, "GET", "/playground", nil).Header().Get("ETag"); a == p {
		t.Errorf("app and playground share the ETag %s", a)
	}
}

func TestPlaceholderWithoutBundle(t *testing.T) {
	h := newHandler(fstest.MapFS{".keep": {}}, Options{})
	for _, target := range []string{"/", "/prompts/1", "/playground"} {
		rec := serve(h, http.MethodGet, target, nil)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", target, rec.Code)
		}
		if got := rec.Header().Get("Content-Type"); got != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", target, got)
		}
		if got := rec.Header().Get("Cache-Control"); got != cacheRevalidate {
			t.Errorf("GET %s: Cache-Control %q, want %q", target, got, cacheRevalidate)
		}
		if body := rec.Body.String(); !strings.Contains(body, "make web") {
			t.Errorf("GET %s: placeholder does not say how to build the bundle:\n%s", target, body)
		}
	}
	if rec := serve(h, http.MethodGet, "/assets/app-1a2b3c.js", nil); rec.Code != http.StatusNotFound {
		t.Errorf("asset without a bundle: status %d, want 404", rec.Code)
	}
}

func TestGraphQLURLIsWrittenIntoPages(t *testing.T) {
	url := `https://api.example.com/graphql?a="b"&c=<d>`
	escaped := `content="https://api.example.com/graphql?a=&#34;b&#34;&amp;c=&lt;d&gt;"`
	h := newHandler(testBundle(), Options{GraphQLURL: url})
	for _, target := range []string{"/", "/unknown/path", "/playground"} {
		body := serve(h, http.MethodGet, target, nil).Body.String()
		if !strings.Contains(body, `<meta name="storybot-graphql-url" `+escaped+` />`) {
			t.Errorf("GET %s: URL not written (escaped) into the page:\n%s", target, body)
		}
		if strings.Contains(body, emptyMetaTag(urlMeta)) {
			t.Errorf("GET %s: empty meta tag left in the page", target)
		}
	}
}

func TestOIDCNameIsWrittenIntoTheApp(t *testing.T) {
	h := newHandler(testBundle(), Options{OIDCName: `Acme "SSO" <&>`})
	want := `<meta name="storybot-oidc-name" content="Acme &#34;SSO&#34; &lt;&amp;&gt;" />`
	for _, target := range []string{"/", "/signin", "/s/some-share-token"} {
		if body := serve(h, http.MethodGet, target, nil).Body.String(); !strings.Contains(body, want) {
			t.Errorf("GET %s: provider name not written (escaped) into the page:\n%s", target, body)
		}
	}
	if body := serve(h, http.MethodGet, "/playground", nil).Body.String(); strings.Contains(body, oidcNameMeta) {
		t.Errorf("the playground got the provider's name:\n%s", body)
	}

	// Without a provider the tag stays empty: the app offers no "Sign in with" button.
	body := serve(newHandler(testBundle(), Options{}), http.MethodGet, "/", nil).Body.String()
	if !strings.Contains(body, emptyMetaTag(oidcNameMeta)) {
		t.Errorf("without a provider the tag was changed:\n%s", body)
	}
}

func TestWithMeta(t *testing.T) {
	tag := emptyMetaTag(urlMeta)
	tests := []struct {
		name, page, content, want string
	}{
		{"empty content keeps the page", "<head>" + tag + "</head>", "", "<head>" + tag + "</head>"},
		{"fills the tag", "<head>" + tag + "</head>", "/api", `<head><meta name="storybot-graphql-url" content="/api" /></head>`},
		{"fills only the named tag", "<head>" + emptyMetaTag(oidcNameMeta) + tag + "</head>", "/api", "<head>" + emptyMetaTag(oidcNameMeta) + `<meta name="storybot-graphql-url" content="/api" /></head>`},
		{"adds the tag to a head without it", "<html><head><title>x</title></head>", "/api", `<html><head><meta name="storybot-graphql-url" content="/api" /><title>x</title></head>`},
		{"adds the tag to a page without a head", "<p>x</p>", "/api", `<meta name="storybot-graphql-url" content="/api" /><p>x</p>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(withMeta([]byte(tt.page), urlMeta, tt.content)); got != tt.want {
				t.Errorf("withMeta(%q, %q, %q)\n got %q\nwant %q", tt.page, urlMeta, tt.content, got, tt.want)
			}
		})
	}
}

var assetRef = regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`)

// TestEmbeddedBundle checks the real embedded dist/: the built app when `make web` ran before
// the test, otherwise the placeholder that a binary without a bundle serves.
func TestEmbeddedBundle(t *testing.T) {
	h := New(Options{GraphQLURL: "https://api.example.com/graphql"})
	index, err := fs.ReadFile(dist, "dist/index.html")
	if errors.Is(err, fs.ErrNotExist) {
		t.Log("dist/ holds no bundle: checking the placeholder")
		rec := serve(h, http.MethodGet, "/", nil)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "make web") {
			t.Fatalf("GET / without a bundle: status %d, body:\n%s", rec.Code, rec.Body.String())
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	playground, err := fs.ReadFile(dist, "dist/playground.html")
	if err != nil {
		t.Fatalf("the bundle has an app but no playground: %v", err)
	}

	if !strings.Contains(string(index), emptyMetaTag(oidcNameMeta)) {
		t.Error("the built app lost the tag that carries the OpenID Connect provider's name")
	}
	pages := map[string][]byte{"/": index, "/playground": playground}
	for target, source := range pages {
		if !strings.Contains(string(source), emptyMetaTag(urlMeta)) {
			t.Errorf("%s: the built page lost the tag that carries the GraphQL URL", target)
		}
		rec := serve(h, http.MethodGet, target, nil)
		if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != cacheRevalidate {
			t.Errorf("GET %s: status %d, Cache-Control %q", target, rec.Code, rec.Header().Get("Cache-Control"))
		}
		if !strings.Contains(rec.Body.String(), `content="https://api.example.com/graphql"`) {
			t.Errorf("GET %s: the GraphQL URL was not written into the page", target)
		}
		refs := assetRef.FindAllStringSubmatch(string(source), -1)
		if len(refs) == 0 {
			t.Errorf("%s references no /assets/ files", target)
		}
		for _, ref := range refs {
			asset := serve(h, http.MethodGet, ref[1], nil)
			if asset.Code != http.StatusOK || asset.Body.Len() == 0 {
				t.Errorf("GET %s (from %s): status %d, %d bytes", ref[1], target, asset.Code, asset.Body.Len())
			}
			if got := asset.Header().Get("Cache-Control"); got != cacheImmutable {
				t.Errorf("GET %s: Cache-Control %q, want %q", ref[1], got, cacheImmutable)
			}
		}
	}
}

// csp splits a Content-Security-Policy into its directives' source lists.
func csp(t *testing.T, policy string) map[string][]string {
	t.Helper()
	directives := map[string][]string{}
	for _, d := range strings.Split(policy, ";") {
		fields := strings.Fields(d)
		if len(fields) == 0 {
			continue
		}
		if _, dup := directives[fields[0]]; dup {
			t.Errorf("directive %s appears twice in %q", fields[0], policy)
		}
		directives[fields[0]] = fields[1:]
	}
	return directives
}

func hasSource(sources []string, want string) bool {
	for _, s := range sources {
		if s == want {
			return true
		}
	}
	return false
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/graphql", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":{}}`))
	})
	mux.Handle("/", newHandler(testBundle(), Options{}))
	h := SecurityHeaders(mux)

	for _, tt := range []struct{ method, target string }{
		{http.MethodGet, "/"},
		{http.MethodGet, "/s/share-token"},
		{http.MethodGet, "/signin?error=access_denied"},
		{http.MethodGet, "/playground"},
		{http.MethodGet, "/assets/app-1a2b3c.js"},
		{http.MethodGet, "/assets/app-000000.js"}, // a 404
		{http.MethodPost, "/"},                    // a 405
		{http.MethodPost, "/graphql"},
	} {
		rec := serve(h, tt.method, "http://storybot.example:8080"+tt.target, nil)
		for header, want := range map[string]string{
			"Referrer-Policy":        "no-referrer",
			"X-Content-Type-Options": "nosniff",
			"X-Frame-Options":        "DENY",
		} {
			if got := rec.Header().Get(header); got != want {
				t.Errorf("%s %s (status %d): %s = %q, want %q", tt.method, tt.target, rec.Code, header, got, want)
			}
		}
		policy := rec.Header().Get("Content-Security-Policy")
		d := csp(t, policy)
		for directive, want := range map[string][]string{
			"default-src":     {"'self'"},
			"script-src":      {"'self'"},
			"worker-src":      {"'self'"},
			"object-src":      {"'none'"},
			"base-uri":        {"'none'"},
			"frame-ancestors": {"'none'"},
			"connect-src":     {"'self'", "ws://storybot.example:8080", "wss://storybot.example:8080"},
		} {
			if diff := strings.Join(d[directive], " "); diff != strings.Join(want, " ") {
				t.Errorf("%s %s: %s is %q, want %q", tt.method, tt.target, directive, diff, strings.Join(want, " "))
			}
		}
		if strings.Contains(policy, "unsafe-eval") {
			t.Errorf("%s %s: the policy allows eval: %q", tt.method, tt.target, policy)
		}
		if wantInline := tt.target == "/playground"; hasSource(d["style-src"], "'unsafe-inline'") != wantInline {
			t.Errorf("%s %s: style-src %q, inline styles wanted: %v", tt.method, tt.target, d["style-src"], wantInline)
		}
	}
}

func TestSecurityHeadersAllowTheAPIOrigin(t *testing.T) {
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	tests := []struct {
		name, graphQLURL, host string
		want, notWant          []string
	}{
		{"same origin", "", "stories.example.com", []string{"'self'", "ws://stories.example.com", "wss://stories.example.com"}, nil},
		{"relative URL", "/api/graphql", "stories.example.com", []string{"'self'", "ws://stories.example.com", "wss://stories.example.com"}, nil},
		{"https API elsewhere", "https://api.example.com/graphql", "stories.example.com", []string{"https://api.example.com", "wss://api.example.com"}, []string{"ws://api.example.com"}},
		{"http API elsewhere, with a port", "http://127.0.0.1:9000/graphql", "localhost:5173", []string{"http://127.0.0.1:9000", "ws://127.0.0.1:9000", "ws://localhost:5173"}, nil},
		{"IPv6 host", "", "[::1]:8080", []string{"ws://[::1]:8080", "wss://[::1]:8080"}, nil},
		{"a Host that would break the policy is left out", "", "evil.example; script-src *", []string{"'self'"}, []string{"*", "script-src", "ws://evil.example;"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Host = tt.host
			rec := httptest.NewRecorder()
			SecurityHeadersFor(Options{GraphQLURL: tt.graphQLURL})(ok).ServeHTTP(rec, req)
			d := csp(t, rec.Header().Get("Content-Security-Policy"))
			for _, w := range tt.want {
				if !hasSource(d["connect-src"], w) {
					t.Errorf("connect-src %q lacks %s", d["connect-src"], w)
				}
			}
			for _, w := range tt.notWant {
				if hasSource(d["connect-src"], w) {
					t.Errorf("connect-src %q has %s", d["connect-src"], w)
				}
			}
			if got := d["script-src"]; len(got) != 1 || got[0] != "'self'" {
				t.Errorf("script-src = %q, want 'self' alone", got)
			}
		})
	}
}

// The placeholder page keeps its inline style under the policy: its hash is allowed.
func TestSecurityHeadersAllowThePlaceholderStyle(t *testing.T) {
	rec := serve(SecurityHeaders(newHandler(fstest.MapFS{".keep": {}}, Options{})), http.MethodGet, "/", nil)
	body := rec.Body.String()
	start, end := strings.Index(body, "<style>"), strings.Index(body, "</style>")
	if start < 0 || end < start+len("<style>")+1 {
		t.Fatalf("the placeholder has no inline style:\n%s", body)
	}
	sum := sha256.Sum256([]byte(body[start+len("<style>") : end]))
	want := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	if d := csp(t, rec.Header().Get("Content-Security-Policy")); !hasSource(d["style-src"], want) {
		t.Errorf("style-src %q lacks the placeholder's style hash %s", d["style-src"], want)
	}
}

// New's pages carry the policy of its options even when the server wraps nothing around it,
// and a wrapper without the options does not take the API's origin away from them.
func TestNewSetsSecurityHeadersForItsOptions(t *testing.T) {
	opts := Options{GraphQLURL: "https://api.example.com/graphql"}
	for name, h := range map[string]http.Handler{
		"alone":                  New(opts),
		"inside SecurityHeaders": SecurityHeaders(New(opts)),
	} {
		rec := serve(h, http.MethodGet, "/", nil)
		d := csp(t, rec.Header().Get("Content-Security-Policy"))
		if !hasSource(d["connect-src"], "https://api.example.com") || !hasSource(d["connect-src"], "wss://api.example.com") {
			t.Errorf("%s: connect-src %q lacks the API's origins", name, d["connect-src"])
		}
		if got := rec.Header().Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("%s: X-Frame-Options = %q", name, got)
		}
	}
}

package web

import (
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
		"index.html":            {Data: []byte("<!doctype html><html><head>" + urlMetaTag + "<title>app</title></head><body>the app</body></html>")},
		"playground.html":       {Data: []byte("<!doctype html><html><head>" + urlMetaTag + "<title>pg</title></head><body>the playground</body></html>")},
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
	h := newHandler(testBundle(), Options{})
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
			if got := rec.Header().Get("X-Content-Type-Options"); tt.wantStatus != 405 && got != "nosniff" {
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
		if strings.Contains(body, urlMetaTag) {
			t.Errorf("GET %s: empty meta tag left in the page", target)
		}
	}
}

func TestWithGraphQLURL(t *testing.T) {
	tests := []struct {
		name, page, url, want string
	}{
		{"empty URL keeps the page", "<head>" + urlMetaTag + "</head>", "", "<head>" + urlMetaTag + "</head>"},
		{"fills the tag", "<head>" + urlMetaTag + "</head>", "/api", `<head><meta name="storybot-graphql-url" content="/api" /></head>`},
		{"adds the tag to a head without it", "<html><head><title>x</title></head>", "/api", `<html><head><meta name="storybot-graphql-url" content="/api" /><title>x</title></head>`},
		{"adds the tag to a page without a head", "<p>x</p>", "/api", `<meta name="storybot-graphql-url" content="/api" /><p>x</p>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(withGraphQLURL([]byte(tt.page), tt.url)); got != tt.want {
				t.Errorf("withGraphQLURL(%q, %q)\n got %q\nwant %q", tt.page, tt.url, got, tt.want)
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

	pages := map[string][]byte{"/": index, "/playground": playground}
	for target, source := range pages {
		if !strings.Contains(string(source), urlMetaTag) {
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

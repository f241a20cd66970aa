// Package web serves storybot's browser front end from the binary itself: the React app and
// the offline GraphiQL playground that Vite builds into dist/, embedded with go:embed.
//
// Build the bundle with `make web` (npm ci and npm run build in this directory) before
// `go build`; a binary built without it serves a page that says so.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// Options configures the handler that New returns.
type Options struct {
	// GraphQLURL is the GraphQL endpoint that the app and the playground talk to, absolute
	// (https://api.example.com/graphql) or relative to the page (/graphql). The handler writes it
	// into both pages as they are served; the websocket for subscriptions uses the same address
	// over ws or wss. Empty keeps the bundle's own default: /graphql on the page's origin, or the
	// VITE_GRAPHQL_URL the bundle was built with.
	GraphQLURL string

	// DisablePlayground turns /playground into a 404, for deployments that switch off
	// introspection and do not want GraphiQL offered to visitors.
	DisablePlayground bool

	// OIDCName is the OpenID Connect provider's name for the app's "Sign in with NAME" button,
	// which links to /auth/oidc/login. Empty: the server has no provider, and the app offers
	// email and password only.
	OIDCName string
}

// Cache-Control values of the three kinds of file the handler serves.
const (
	// Vite puts a content hash in every file name under assets/, so a name never changes meaning.
	cacheImmutable = "public, max-age=31536000, immutable"
	// Pages and the few unhashed files are checked with the server on each use.
	cacheRevalidate = "no-cache"
)

// The meta tags that carry the handler's options to the scripts, empty in the built pages and
// filled as they are served.
const (
	// In index.html and playground.html: Options.GraphQLURL.
	urlMeta = "storybot-graphql-url"
	// In index.html: Options.OIDCName.
	oidcNameMeta = "storybot-oidc-name"
)

// emptyMetaTag is a meta tag as Vite leaves it in a built page.
func emptyMetaTag(name string) string {
	return `<meta name="` + name + `" content="" />`
}

// New returns the front end's handler. Mount it at "/" beside the API, and wrap the mux in
// SecurityHeaders so that the API's answers carry them too:
//
//	mux.Handle("/graphql", api)
//	mux.Handle("/", web.New(web.Options{}))
//	srv.Handler = web.SecurityHeaders(mux)
//
// Its own responses carry the headers of SecurityHeadersFor(opts) in any case.
// It answers GET and HEAD: /playground with GraphiQL (unless DisablePlayground), /assets/... with the hashed bundle
// files (cached for a year), other files of the bundle as they are, and every other path with
// the app's index.html, which routes on the client; pages are served with Cache-Control
// no-cache. Without a built bundle every page is a short note on how to build it.
func New(opts Options) http.Handler {
	files, err := fs.Sub(dist, "dist")
	if err != nil {
		// fs.Sub fails only for an invalid path name, and "dist" is valid.
		panic(err)
	}
	// The pages carry their security headers whatever the server wraps this handler in; the
	// policy is the one for these options (an API on another origin may be connected to).
	return SecurityHeadersFor(opts)(newHandler(files, opts))
}

// page is an HTML page prepared once at start-up.
type page struct {
	body []byte
	etag string
}

func newPage(body []byte) *page {
	sum := sha256.Sum256(body)
	return &page{body: body, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

type handler struct {
	files      fs.FS
	app        *page // index.html, or the placeholder when the bundle was not built
	playground *page // playground.html, or the app page without a bundle; nil when disabled
}

func newHandler(files fs.FS, opts Options) *handler {
	h := &handler{files: files}
	h.app = loadPage(files, "index.html", map[string]string{urlMeta: opts.GraphQLURL, oidcNameMeta: opts.OIDCName})
	h.playground = loadPage(files, "playground.html", map[string]string{urlMeta: opts.GraphQLURL})
	if h.app == nil {
		h.app = newPage([]byte(placeholder))
	}
	if h.playground == nil {
		h.playground = h.app
	}
	if opts.DisablePlayground {
		h.playground = nil
	}
	return h
}

// loadPage reads a page of the bundle and fills its meta tags (name: content) in; nil if it is
// absent.
func loadPage(files fs.FS, name string, meta map[string]string) *page {
	body, err := fs.ReadFile(files, name)
	if err != nil {
		return nil
	}
	for name, content := range meta {
		body = withMeta(body, name, content)
	}
	return newPage(body)
}

// withMeta fills the page's meta tag of that name with content, HTML-escaped. A page without
// the tag gets one at the top of its head; an empty content leaves the page as it is.
func withMeta(body []byte, name, content string) []byte {
	if content == "" {
		return body
	}
	filled := []byte(`<meta name="` + name + `" content="` + html.EscapeString(content) + `" />`)
	if empty := []byte(emptyMetaTag(name)); bytes.Contains(body, empty) {
		return bytes.Replace(body, empty, filled, 1)
	}
	if i := bytes.Index(body, []byte("<head>")); i >= 0 {
		i += len("<head>")
		return append(append(append([]byte{}, body[:i]...), filled...), body[i:]...)
	}
	return append(filled, body...)
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := pageName(r.URL.Path)
	switch {
	case isPlayground(name):
		if h.playground == nil {
			http.NotFound(w, r)
			return
		}
		h.servePage(w, r, h.playground)
	case name == "assets" || strings.HasPrefix(name, "assets/"):
		// A missing asset is a 404, never the app: a browser would run HTML as a script.
		h.serveFile(w, r, name, cacheImmutable)
	case name == "" || name == "index.html" || !h.isFile(name):
		h.servePage(w, r, h.app)
	default:
		h.serveFile(w, r, name, cacheRevalidate)
	}
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request, p *page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", cacheRevalidate)
	w.Header().Set("ETag", p.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(p.body))
}

func (h *handler) isFile(name string) bool {
	info, err := fs.Stat(h.files, name)
	return err == nil && info.Mode().IsRegular()
}

func (h *handler) serveFile(w http.ResponseWriter, r *http.Request, name, cacheControl string) {
	f, err := h.files.Open(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() || strings.HasPrefix(path.Base(name), ".") {
		http.NotFound(w, r)
		return
	}
	content, ok := f.(io.ReadSeeker)
	if !ok {
		body, err := io.ReadAll(f)
		if err != nil {
			http.Error(w, "cannot read file", http.StatusInternalServerError)
			return
		}
		content = bytes.NewReader(body)
	}
	w.Header().Set("Cache-Control", cacheControl)
	// Embedded files carry no modification time, so ServeContent sends no Last-Modified.
	http.ServeContent(w, r, name, info.ModTime(), content)
}

// placeholder is served in place of the app by a binary built before the bundle was.
const placeholder = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>storybot</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5}code{background:#eee;padding:0 .25em}</style>
</head>
<body>
<h1>storybot</h1>
<p>The API is running, but this binary was built without the web front end.</p>
<p>Build it with <code>make web</code> (or <code>npm ci &amp;&amp; npm run build</code> in <code>web/</code>), then rebuild the binary; <code>make run</code> does both.</p>
<p>Meanwhile the GraphQL API answers at <code>/graphql</code>.</p>
</body>
</html>
`

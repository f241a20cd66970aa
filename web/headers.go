package web

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// SecurityHeaders sets storybot's security headers on every response of next, for pages that
// talk to the API on their own origin (Options.GraphQLURL empty or relative). Wrap the whole
// server mux with it:
//
//	http.ListenAndServe(addr, web.SecurityHeaders(mux))
//
// With the API on another origin, use SecurityHeadersFor with the same Options as New.
func SecurityHeaders(next http.Handler) http.Handler {
	return SecurityHeadersFor(Options{})(next)
}

// SecurityHeadersFor returns SecurityHeaders for pages served with opts: an absolute
// opts.GraphQLURL on another origin may also be connected to, over HTTP and websocket.
//
// The headers, on every response:
//   - Content-Security-Policy: scripts, workers, styles, fonts and images from the page's own
//     origin only (no inline script, no eval); fetches and websockets to the page's own origin
//     and the API's; no plugins, no <base>, never framed. The placeholder page's one inline
//     style is allowed by its hash. GraphiQL's editor (Monaco) writes <style> elements at run
//     time, so /playground alone also allows inline styles; its scripts stay as strict.
//   - Referrer-Policy: no-referrer, so that the token of a share link (/s/TOKEN) never leaves
//     in a Referer header.
//   - X-Content-Type-Options: nosniff, and X-Frame-Options: DENY for browsers without
//     frame-ancestors.
func SecurityHeadersFor(opts Options) func(http.Handler) http.Handler {
	api := apiOrigins(opts.GraphQLURL)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Security-Policy", contentSecurityPolicy(r, api))
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			next.ServeHTTP(w, r)
		})
	}
}

// contentSecurityPolicy is the policy of one response; api holds the API's origins when it
// lives elsewhere.
func contentSecurityPolicy(r *http.Request, api []string) string {
	styles := "'self' " + placeholderStyleHash
	if isPlayground(pageName(r.URL.Path)) {
		// A hash in the directive would make browsers ignore 'unsafe-inline'.
		styles = "'self' 'unsafe-inline'"
	}
	connect := append([]string{"'self'"}, ownWebsocketOrigins(r.Host)...)
	connect = append(connect, api...)
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"worker-src 'self'",
		"style-src " + styles,
		"img-src 'self' data:",
		"font-src 'self' data:",
		"connect-src " + strings.Join(connect, " "),
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	}, "; ")
}

// A Host header that can go into the policy as it is: a name or an IP address, and a port.
var plainHost = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]+)?$|^\[[0-9A-Fa-f:.]+\](:[0-9]+)?$`)

// ownWebsocketOrigins are the page's own origin over ws and wss. CSP Level 3 lets 'self'
// match them, but not every browser in use does, so they are named. (Over https, a ws: URL
// is blocked as mixed content whatever the policy says.)
func ownWebsocketOrigins(host string) []string {
	if !plainHost.MatchString(host) {
		return nil
	}
	return []string{"ws://" + host, "wss://" + host}
}

// apiOrigins are the origins, HTTP and websocket, of an absolute GraphQL URL; none for a
// relative one (the page's own origin, which the policy already allows).
func apiOrigins(graphQLURL string) []string {
	u, err := url.Parse(graphQLURL)
	if err != nil || u.Host == "" || !plainHost.MatchString(u.Host) {
		return nil
	}
	switch u.Scheme {
	case "https":
		return []string{"https://" + u.Host, "wss://" + u.Host}
	case "http":
		return []string{"http://" + u.Host, "ws://" + u.Host}
	}
	return nil
}

// placeholderStyleHash is the CSP source of the inline style of the placeholder page.
var placeholderStyleHash = func() string {
	_, rest, _ := strings.Cut(placeholder, "<style>")
	style, _, _ := strings.Cut(rest, "</style>")
	sum := sha256.Sum256([]byte(style))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// pageName is a request path as the handler routes it: cleaned, without the leading slash.
func pageName(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

// isPlayground reports whether the handler answers name (a pageName) with GraphiQL.
func isPlayground(name string) bool {
	return name == "playground" || name == "playground.html"
}

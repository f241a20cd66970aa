// Package origins decides which web origins may use the API from a browser:
// one allow-list for CORS (through github.com/rs/cors), the websocket origin
// check and server-sent events, so a page from another origin can neither
// call the API nor open a subscription.
package origins

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/rs/cors"

	"github.com/storybot/storybot/internal/telemetry"
)

// Policy is an allow-list of origins such as "https://stories.example.com".
// "*" allows every origin.
type Policy struct {
	allowed []string
	any     bool
}

// New returns the policy for the given origins.
func New(allowed []string) *Policy {
	p := &Policy{}
	for _, o := range allowed {
		if o == "*" {
			p.any = true
			continue
		}
		p.allowed = append(p.allowed, strings.ToLower(strings.TrimRight(o, "/")))
	}
	return p
}

// AllowOrigin reports whether pages from origin may use the API.
func (p *Policy) AllowOrigin(origin string) bool {
	return p.any || slices.Contains(p.allowed, strings.ToLower(origin))
}

// AllowRequest reports whether a request may proceed: requests without an
// Origin header (not from a browser page), from the server's own origin, or
// from an allowed origin.
func (p *Policy) AllowRequest(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if u, err := url.Parse(origin); err == nil && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return p.AllowOrigin(origin)
}

// Middleware answers CORS preflights and sets the CORS headers for allowed
// origins. It also refuses, with 403, browser requests that must not reach
// the API from a foreign origin even though CORS would let them through
// (websocket upgrades and event streams, which browsers send without a
// preflight).
func (p *Policy) Middleware(next http.Handler) http.Handler {
	c := cors.New(cors.Options{
		AllowOriginRequestFunc: func(r *http.Request, origin string) bool { return p.AllowRequest(r) },
		AllowedMethods:         []string{http.MethodGet, http.MethodPost, http.MethodOptions},
		AllowedHeaders:         []string{"Content-Type", "Accept", telemetry.TraceIDHeader, "traceparent", "Authorization"},
		ExposedHeaders:         []string{telemetry.TraceIDHeader},
		MaxAge:                 600,
		// Pages of the allowed origins may send the session cookie (the
		// web app on a development server, say).
		AllowCredentials: true,
	})
	return c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if streaming(r) && !p.AllowRequest(r) {
			http.Error(w, "origin not allowed", http.StatusForbidden)
			return
		}
		if p.onlyAny(r) {
			// "*" lets any page call the API with a token, never with the
			// session cookie of the person whose browser it runs in.
			r.Header.Del("Cookie")
		}
		next.ServeHTTP(w, r)
	}))
}

// onlyAny reports whether r comes from a foreign origin that only "*"
// allows.
func (p *Policy) onlyAny(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if !p.any || origin == "" || slices.Contains(p.allowed, strings.ToLower(origin)) {
		return false
	}
	u, err := url.Parse(origin)
	return err != nil || !strings.EqualFold(u.Host, r.Host)
}

// streaming reports whether r opens a websocket or an event stream.
func streaming(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" || strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

package auth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/storybot/storybot/internal/database"
	"github.com/storybot/storybot/internal/telemetry"
	"github.com/storybot/storybot/internal/viewer"
	"github.com/storybot/storybot/internal/websocket"
)

// SessionCookie is the name of the session cookie.
const SessionCookie = "storybot_session"

// CloseUnauthorized is the websocket close code for credentials that are
// invalid, revoked or expired (graphql-transport-ws's 4401).
const CloseUnauthorized = 4401

// Middleware resolves who a request is, once, at the edge: a bearer token
// (API token or the OpenID Connect provider's access token) in
// Authorization, else the session cookie. The viewer goes into the
// request's context. A bearer token that is not valid is refused with 401
// UNAUTHENTICATED; a session cookie that is not valid (expired, signed out)
// is cleared and the request goes on anonymous, so that signing in again
// works.
func (a *Accounts) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			// Resolvers may set the session cookie on this response; a
			// websocket has no response to set it on.
			ctx = context.WithValue(ctx, jarKey{}, &jar{w: w, secure: !plainLocalhost(r)})
		}
		if h := r.Header.Get("Authorization"); h != "" {
			token, ok := bearer(h)
			if !ok {
				refuse(w, r, http.StatusUnauthorized, "UNAUTHENTICATED", "the Authorization header must be \"Bearer <token>\"")
				return
			}
			v, err := a.Authenticate(ctx, token)
			if err != nil {
				a.refuseAuth(w, r, err)
				return
			}
			ctx = viewer.NewContext(ctx, v)
		} else if c, err := r.Cookie(SessionCookie); err == nil {
			v, err := a.Authenticate(ctx, c.Value)
			switch {
			case err == nil && v.Method == viewer.MethodSession:
				ctx = viewer.NewContext(ctx, v)
			case err == nil || errors.Is(err, ErrUnauthenticated):
				clearCookie(w, !plainLocalhost(r))
			default:
				a.refuseAuth(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// refuseAuth answers a request whose credentials could not be checked.
func (a *Accounts) refuseAuth(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrUnauthenticated):
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		refuse(w, r, http.StatusUnauthorized, "UNAUTHENTICATED", "invalid credentials: sign in again or use a valid token")
	case database.IsUnavailable(err):
		refuse(w, r, http.StatusServiceUnavailable, "UNAVAILABLE", "the database is unavailable; try again shortly")
	default:
		a.log.ErrorContext(r.Context(), "checking credentials failed", telemetry.Error(err))
		refuse(w, r, http.StatusInternalServerError, "INTERNAL", "internal error")
	}
}

// refuse answers a request refused for its credentials.
func refuse(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	telemetry.WriteGraphQLError(w, r, status, code, msg)
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

// plainLocalhost reports whether r came over plain HTTP to localhost, the
// one place where the session cookie may go without Secure (browsers keep
// Secure cookies only from HTTPS, and localhost development has none).
func plainLocalhost(r *http.Request) bool {
	if r.TLS != nil {
		return false
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// jar lets resolvers set the session cookie of the HTTP request they serve.
type jar struct {
	w      http.ResponseWriter
	secure bool
}

type jarKey struct{}

// errNoCookies is returned when a session would start over a transport
// that cannot set cookies (a websocket).
var errNoCookies = invalid("sign in over HTTP POST: this transport cannot set the session cookie")

// CanSetCookie returns an error when the request of ctx cannot carry a
// session cookie back (it came over a websocket), before a session starts.
func CanSetCookie(ctx context.Context) error {
	if j, _ := ctx.Value(jarKey{}).(*jar); j == nil {
		return errNoCookies
	}
	return nil
}

// SetSessionCookie sends the cookie of a new session with the response to
// the request of ctx.
func SetSessionCookie(ctx context.Context, s *Signed) error {
	j, _ := ctx.Value(jarKey{}).(*jar)
	if j == nil {
		return errNoCookies
	}
	http.SetCookie(j.w, &http.Cookie{
		Name: SessionCookie, Value: s.Token, Path: "/",
		Expires: s.Expires, MaxAge: int(time.Until(s.Expires).Seconds()),
		HttpOnly: true, Secure: j.secure, SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// ClearSessionCookie removes the session cookie with the response to the
// request of ctx.
func ClearSessionCookie(ctx context.Context) {
	if j, _ := ctx.Value(jarKey{}).(*jar); j != nil {
		clearCookie(j.w, j.secure)
	}
}

func clearCookie(w http.ResponseWriter, secure bool) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	})
}

// WebsocketInit checks the credentials of a websocket's connection_init:
// {"authorization": "Bearer <token>"} replaces the handshake's cookie; an
// invalid one closes the socket with 4401. Without any, the socket is
// acked anonymous (shared stories need no account) and each operation that
// needs credentials fails with UNAUTHENTICATED. A signed-in socket is
// watched: when its credential is revoked or expires, it is closed with
// 4401 and its subscriptions end.
func (a *Accounts) WebsocketInit(w *Watcher) func(ctx context.Context, payload transport.InitPayload) (context.Context, error) {
	return func(ctx context.Context, payload transport.InitPayload) (context.Context, error) {
		if h := payload.Authorization(); h != "" {
			token, ok := bearer(h)
			if !ok {
				token = h
			}
			v, err := a.Authenticate(ctx, token)
			if err != nil {
				code := CloseUnauthorized
				if !errors.Is(err, ErrUnauthenticated) {
					code = 1011 // could not check: an internal error
				}
				return ctx, &websocket.CloseError{Code: code, Reason: "Unauthorized", Err: ErrUnauthenticated}
			}
			ctx = viewer.NewContext(ctx, v)
		}
		if v := viewer.FromContext(ctx); v != nil && w != nil {
			stop := w.Watch(v, func() {
				websocket.CloseWith(ctx, CloseUnauthorized, "Unauthorized: credentials revoked or expired")
			})
			context.AfterFunc(ctx, stop)
		}
		return ctx, nil
	}
}

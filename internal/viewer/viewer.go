// Package viewer carries who is asking through a request's context: the
// signed-in user resolved once at the edge (session cookie, API token or an
// OpenID Connect access token), the share tokens an operation presented,
// or the system itself for work no request owns (running stories, the
// sweeper). Ent's privacy rules read it to scope every query and mutation;
// nothing else decides who may see what.
package viewer

import (
	"context"
	"sync"
	"time"

	"github.com/storybot/storybot/internal/pulid"
)

// Role is a user's role.
type Role string

// The roles.
const (
	RoleUser  Role = "USER"
	RoleAdmin Role = "ADMIN"
)

// Method says how a viewer proved who they are.
type Method string

// The ways to sign in.
const (
	MethodSession  Method = "session"   // the session cookie
	MethodAPIToken Method = "api_token" // a personal API token
	MethodOIDC     Method = "oidc"      // an access token of the OpenID Connect provider
)

// Viewer is a signed-in user.
type Viewer struct {
	UserID pulid.ID
	Role   Role
	// Method and CredentialID name the credential the viewer presented
	// (the session's or API token's ID; the token's subject for OIDC), so
	// that a socket can be closed when it is revoked.
	Method       Method
	CredentialID string
	// Expiry is when the credential ends at the latest (zero: never).
	Expiry time.Time
}

// Admin reports whether the viewer is an administrator.
func (v *Viewer) Admin() bool { return v != nil && v.Role == RoleAdmin }

type (
	viewerKey struct{}
	grantsKey struct{}
	systemKey struct{}
)

// NewContext returns ctx carrying v.
func NewContext(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, viewerKey{}, v)
}

// FromContext returns the signed-in user of ctx, or nil.
func FromContext(ctx context.Context) *Viewer {
	v, _ := ctx.Value(viewerKey{}).(*Viewer)
	return v
}

// UserID returns the ID of the signed-in user of ctx, or "".
func UserID(ctx context.Context) pulid.ID {
	if v := FromContext(ctx); v != nil {
		return v.UserID
	}
	return ""
}

// System returns ctx marked as storybot's own work, which reads and writes
// every user's rows (a running story storing its text, the sweeper). Only
// code that no request steers may use it.
func System(ctx context.Context) context.Context {
	return context.WithValue(ctx, systemKey{}, true)
}

// AsAdmin returns ctx allowed to read and change every user's rows, for an
// admin's explicit request (listing accounts, setting a user's limit), and
// false when ctx's viewer is not an admin.
func AsAdmin(ctx context.Context) (context.Context, bool) {
	if !FromContext(ctx).Admin() {
		return ctx, false
	}
	return System(ctx), true
}

// IsSystem reports whether ctx is marked by System.
func IsSystem(ctx context.Context) bool {
	b, _ := ctx.Value(systemKey{}).(bool)
	return b
}

// Grants are the stories one operation may read because it presented their
// share tokens: each story, and its prompt. An operation starts with an
// empty set (WithGrants) and the resolver that checks a share token adds
// the story; the fields below it, resolved afterwards, see it.
type Grants struct {
	mu      sync.Mutex
	stories map[pulid.ID]pulid.ID // story → its prompt
}

// WithGrants returns ctx with a new, empty set of grants.
func WithGrants(ctx context.Context) context.Context {
	return context.WithValue(ctx, grantsKey{}, &Grants{})
}

// Grant lets the operation of ctx read story and its prompt. It reports
// false when ctx has no set of grants (WithGrants was not called).
func Grant(ctx context.Context, story, prompt pulid.ID) bool {
	g, _ := ctx.Value(grantsKey{}).(*Grants)
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stories == nil {
		g.stories = map[pulid.ID]pulid.ID{}
	}
	g.stories[story] = prompt
	return true
}

// Granted returns the stories the operation of ctx was granted, and their
// prompts.
func Granted(ctx context.Context) (stories, prompts []pulid.ID) {
	g, _ := ctx.Value(grantsKey{}).(*Grants)
	if g == nil {
		return nil, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for s, p := range g.stories {
		stories = append(stories, s)
		prompts = append(prompts, p)
	}
	return stories, prompts
}

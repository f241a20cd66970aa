package auth

import (
	"context"
	"time"

	"github.com/storybot/storybot/ent"
	"github.com/storybot/storybot/ent/apitoken"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/textcheck"
	"github.com/storybot/storybot/internal/viewer"
)

// CreateAPITokenInput is GraphQL's CreateApiTokenInput.
type CreateAPITokenInput struct {
	Name      string     `json:"name"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// NewAPIToken is a token just made: the secret, shown this once, and the
// stored record.
type NewAPIToken struct {
	Token    string        `json:"token"`
	APIToken *ent.APIToken `json:"apiToken"`
}

// CreateAPIToken makes a personal API token for the signed-in user. It
// acts as that user, with everything they may do, until it expires or is
// revoked.
func (a *Accounts) CreateAPIToken(ctx context.Context, in CreateAPITokenInput) (*NewAPIToken, error) {
	uid := viewer.UserID(ctx)
	if uid == "" {
		return nil, ErrUnauthenticated
	}
	if err := textcheck.Check(in.Name, 1, 100); err != nil {
		return nil, invalid("name %v", err)
	}
	now := a.now()
	if in.ExpiresAt != nil && !in.ExpiresAt.After(now) {
		return nil, invalid("expiresAt must be in the future")
	}
	token, hash := newToken(apiTokenPrefix)
	t, err := a.client.APIToken.Create().
		SetUserID(uid).
		SetName(in.Name).
		SetTokenHash(hash).
		SetCreatedAt(now).
		SetNillableExpiresAt(in.ExpiresAt).
		Save(viewer.System(ctx))
	if err != nil {
		return nil, err
	}
	return &NewAPIToken{Token: token, APIToken: t}, nil
}

// RevokeAPIToken revokes one of the signed-in user's tokens; requests and
// sockets using it stop working (sockets within the watch interval).
// Revoking a revoked token changes nothing.
func (a *Accounts) RevokeAPIToken(ctx context.Context, id pulid.ID) (*ent.APIToken, error) {
	if id.Prefix() != pulid.APITokenPrefix {
		return nil, ErrNotFound
	}
	// Scoped by the privacy policy: another user's token is not found.
	t, err := a.client.APIToken.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, ErrNotFound
	}
	if err != nil || t.RevokedAt != nil {
		return t, err
	}
	revoked, err := a.client.APIToken.UpdateOne(t).Where(apitoken.RevokedAtIsNil()).SetRevokedAt(a.now()).Save(ctx)
	a.tokens.forget(t.TokenHash)
	return revoked, err
}

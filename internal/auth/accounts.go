// Package auth is storybot's accounts: sign-up and sign-in by email and
// password (argon2id), server-side sessions behind an HttpOnly cookie,
// personal API tokens, OpenID Connect sign-in and bearer access tokens, and
// the watch that ends a socket's subscriptions when its credentials are
// revoked. It resolves who a request is once, at the edge, into the context
// (internal/viewer); Ent's privacy rules do the rest.
package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"slices"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	"golang.org/x/time/rate"

	"github.com/storybot/storybot/ent"
	"github.com/storybot/storybot/ent/apitoken"
	"github.com/storybot/storybot/ent/session"
	"github.com/storybot/storybot/ent/user"
	"github.com/storybot/storybot/internal/limits"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/telemetry"
	"github.com/storybot/storybot/internal/textcheck"
	"github.com/storybot/storybot/internal/viewer"
)

// Errors the GraphQL layer maps to codes.
var (
	// ErrUnauthenticated: no credentials, or wrong ones (UNAUTHENTICATED).
	// Wrong email and wrong password get the same one.
	ErrUnauthenticated = errors.New("sign in first")
	// ErrBadCredentials is the sign-in failure: the same for an unknown
	// email and a wrong password.
	ErrBadCredentials = fmt.Errorf("%w: wrong email or password", ErrUnauthenticated)
	// ErrForbidden: signed in, but not allowed (FORBIDDEN).
	ErrForbidden = errors.New("forbidden")
	// ErrInvalidInput is wrapped by errors about bad input (BAD_USER_INPUT).
	ErrInvalidInput = errors.New("invalid input")
	// ErrNotFound: no such object of the caller's (NOT_FOUND).
	ErrNotFound = errors.New("not found")
)

// invalid returns an error about bad input, whose message is for the
// client, and which matches ErrInvalidInput with errors.Is.
func invalid(format string, args ...any) error {
	return &inputError{fmt.Sprintf(format, args...)}
}

type inputError struct{ msg string }

func (e *inputError) Error() string        { return e.msg }
func (e *inputError) Is(target error) bool { return target == ErrInvalidInput }

// SignupMode says who may create an account.
type SignupMode string

// The sign-up modes.
const (
	SignupOpen   SignupMode = "open"   // anyone
	SignupInvite SignupMode = "invite" // only an admin creates accounts
	SignupClosed SignupMode = "closed" // nobody (but the first account, on an empty database)
)

// Config tunes Accounts. Zero fields take the defaults in parentheses.
type Config struct {
	// Signup says who may sign up (SignupOpen). Whatever it says, the
	// first account on an empty database may be created: it becomes the
	// admin.
	Signup SignupMode
	// AdminEmails become admins when they sign up or sign in.
	AdminEmails []string
	// SessionIdle ends a session unused for this long (7 days).
	SessionIdle time.Duration
	// SessionMaxAge ends a session this long after sign-in, however much
	// it is used (30 days).
	SessionMaxAge time.Duration
	// Argon2 are the password hashing parameters (RFC9106).
	Argon2 Argon2Params
	// HashConcurrency caps password hashes computed at once (4).
	HashConcurrency int
	// SignInRate and SignInBurst slow guessing at one account's password:
	// sign-in attempts per second and at once, per email, on this replica
	// (one per 10 s, burst 5).
	SignInRate  rate.Limit
	SignInBurst int
	// Dialect of the database (dialect.Postgres or dialect.SQLite).
	Dialect string
	// OIDC, when set, accepts the provider's access tokens as bearer tokens.
	OIDC BearerVerifier
	// Logger receives the service's logs.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Signup == "" {
		c.Signup = SignupOpen
	}
	if c.SessionIdle <= 0 {
		c.SessionIdle = 7 * 24 * time.Hour
	}
	if c.SessionMaxAge <= 0 {
		c.SessionMaxAge = 30 * 24 * time.Hour
	}
	if c.Argon2 == (Argon2Params{}) {
		c.Argon2 = RFC9106
	}
	if c.HashConcurrency <= 0 {
		c.HashConcurrency = 4
	}
	if c.SignInRate <= 0 {
		c.SignInRate = rate.Every(10 * time.Second)
	}
	if c.SignInBurst <= 0 {
		c.SignInBurst = 5
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	for i, e := range c.AdminEmails {
		c.AdminEmails[i] = normalizeEmail(e)
	}
}

// BearerVerifier checks an access token of an OpenID Connect provider.
type BearerVerifier interface {
	// VerifyAccessToken returns the token's identity, or an error when
	// its signature, issuer, audience or expiry is wrong.
	VerifyAccessToken(ctx context.Context, raw string) (*Identity, error)
}

// Identity is a person as an OpenID Connect provider names them.
type Identity struct {
	Issuer, Subject string
	Email, Name     string
	EmailVerified   bool
	// Expiry is when the token that proved it ends (zero: unknown).
	Expiry time.Time
}

// Accounts signs people up and in and authenticates their requests.
type Accounts struct {
	client   *ent.Client
	cfg      Config
	hasher   *hasher
	attempts *limits.RateLimiter[string]
	log      *slog.Logger
	now      func() time.Time
	tokens   tokenCache // API tokens checked within apiTokenTTL
}

// New returns the accounts service over client.
func New(client *ent.Client, cfg Config) *Accounts {
	cfg.setDefaults()
	return &Accounts{
		client:   client,
		cfg:      cfg,
		hasher:   newHasher(cfg.Argon2, cfg.HashConcurrency),
		attempts: limits.NewRateLimiter[string](cfg.SignInRate, cfg.SignInBurst),
		log:      cfg.Logger.With(slog.String("log.logger", "auth")),
		now:      func() time.Time { return time.Now().UTC() },
	}
}

// Signed is a new session: its user, and the token for the cookie.
type Signed struct {
	User    *ent.User
	Token   string
	Expires time.Time
	// Viewer is the session as a request's viewer.
	Viewer *viewer.Viewer
}

// SignUpInput is GraphQL's SignUpInput.
type SignUpInput struct {
	Email    string  `json:"email"`
	Password string  `json:"password"`
	Name     *string `json:"name,omitempty"`
}

// SignInInput is GraphQL's SignInInput.
type SignInInput struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// normalizeEmail trims and lower-cases an email address.
func normalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// checkEmail returns the normalised address, or what is wrong with it.
func checkEmail(s string) (string, error) {
	e := normalizeEmail(s)
	if len(e) > 254 {
		return "", invalid("email must have at most 254 characters")
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" || !strings.Contains(e[strings.LastIndexByte(e, '@')+1:], ".") {
		return "", invalid("email must be an address such as ada@example.com")
	}
	return e, nil
}

// SignUp creates an account with a password and signs it in. The first
// account on an empty database becomes ADMIN and receives the prompts and
// stories written before accounts existed.
func (a *Accounts) SignUp(ctx context.Context, in SignUpInput) (*Signed, error) {
	email, err := checkEmail(in.Email)
	if err != nil {
		return nil, err
	}
	if err := checkPassword(in.Password); err != nil {
		return nil, invalid("%v", err)
	}
	if in.Name != nil {
		if err := textcheck.Check(*in.Name, 0, 200); err != nil {
			return nil, invalid("name %v", err)
		}
	}
	hash, err := a.hasher.hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	var signed *Signed
	err = a.inTx(ctx, func(tx *ent.Tx) error {
		u, err := a.createUser(ctx, tx, email, in.Name, &hash, nil, false)
		if err != nil {
			return err
		}
		signed, err = a.newSession(ctx, tx, u)
		return err
	})
	if err != nil {
		return nil, err
	}
	a.log.InfoContext(ctx, "account created", slog.String("user.id", string(signed.User.ID)), slog.String("user.roles", string(signed.User.Role)))
	return signed, nil
}

// CreateUser is an admin creating an account (how accounts are made when
// sign-up is by invitation).
func (a *Accounts) CreateUser(ctx context.Context, in SignUpInput) (*ent.User, error) {
	if !viewer.FromContext(ctx).Admin() {
		return nil, fmt.Errorf("%w: only an admin may create accounts", ErrForbidden)
	}
	email, err := checkEmail(in.Email)
	if err != nil {
		return nil, err
	}
	if err := checkPassword(in.Password); err != nil {
		return nil, invalid("%v", err)
	}
	hash, err := a.hasher.hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	var u *ent.User
	err = a.inTx(ctx, func(tx *ent.Tx) error {
		u, err = a.createUser(ctx, tx, email, in.Name, &hash, nil, true)
		return err
	})
	return u, err
}

// createUser inserts an account, deciding its role, under a lock that
// makes "the first account" well defined across replicas. invited skips
// the sign-up mode.
func (a *Accounts) createUser(ctx context.Context, tx *ent.Tx, email string, name, hash *string, oidc *Identity, invited bool) (*ent.User, error) {
	sys := viewer.System(ctx)
	if a.cfg.Dialect == dialect.Postgres {
		// Serialise account creation: two first visitors must not both
		// become the admin.
		if _, err := tx.ExecContext(sys, "LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"); err != nil {
			return nil, err
		}
	}
	n, err := tx.User.Query().Count(sys)
	if err != nil {
		return nil, err
	}
	first := n == 0
	if !first && !invited && a.cfg.Signup != SignupOpen {
		return nil, fmt.Errorf("%w: sign-up is %s on this server; ask an admin for an account", ErrForbidden, a.cfg.Signup)
	}
	if taken, err := tx.User.Query().Where(user.Email(email)).Exist(sys); err != nil {
		return nil, err
	} else if taken {
		return nil, invalid("an account with this email exists already")
	}
	role := user.RoleUser
	if first || slices.Contains(a.cfg.AdminEmails, email) {
		role = user.RoleAdmin
	}
	create := tx.User.Create().SetEmail(email).SetNillableName(name).SetNillablePasswordHash(hash).SetRole(role)
	if oidc != nil {
		create.SetOidcIssuer(oidc.Issuer).SetOidcSubject(oidc.Subject)
	}
	u, err := create.Save(sys)
	if ent.IsConstraintError(err) {
		return nil, invalid("an account with this email exists already")
	}
	if err != nil {
		return nil, err
	}
	if first {
		// Rows from before accounts existed go to the first admin.
		for _, table := range []string{"prompts", "stories"} {
			q := "UPDATE " + table + " SET user_id = $1 WHERE user_id IS NULL"
			if _, err := tx.ExecContext(sys, q, string(u.ID)); err != nil {
				return nil, fmt.Errorf("giving existing %s to the first admin: %w", table, err)
			}
		}
	}
	return u, nil
}

// SignIn checks an email and password and starts a new session; the
// session the request came with, if any, ends (sessions rotate on sign-in).
// Attempts on one account are rate limited.
func (a *Accounts) SignIn(ctx context.Context, in SignInInput) (*Signed, error) {
	email := normalizeEmail(in.Email)
	if len(email) > 254 || len(in.Password) > 4*MaxPasswordLen {
		return nil, ErrBadCredentials
	}
	if err := a.attempts.Check(email); err != nil {
		return nil, err
	}
	sys := viewer.System(ctx)
	u, err := a.client.User.Query().Where(user.Email(email)).Only(sys)
	if err != nil && !ent.IsNotFound(err) {
		return nil, err
	}
	encoded := ""
	if u != nil && u.PasswordHash != nil {
		encoded = *u.PasswordHash
	}
	ok, err := a.hasher.verify(ctx, encoded, in.Password)
	if err != nil && !errors.Is(err, errBadHash) {
		return nil, err
	}
	if !ok {
		return nil, ErrBadCredentials
	}
	if slices.Contains(a.cfg.AdminEmails, email) && u.Role != user.RoleAdmin {
		if u, err = u.Update().SetRole(user.RoleAdmin).Save(sys); err != nil {
			return nil, err
		}
	}
	return a.startSession(ctx, u)
}

// startSession starts a session for u, ending the one the request came
// with.
func (a *Accounts) startSession(ctx context.Context, u *ent.User) (*Signed, error) {
	var signed *Signed
	err := a.inTx(ctx, func(tx *ent.Tx) (err error) {
		signed, err = a.newSession(ctx, tx, u)
		return err
	})
	if err != nil {
		return nil, err
	}
	if v := viewer.FromContext(ctx); v != nil && v.Method == viewer.MethodSession {
		if err := a.revokeSession(ctx, v.CredentialID); err != nil {
			a.log.WarnContext(ctx, "ending the previous session failed", telemetry.Error(err))
		}
	}
	a.log.InfoContext(ctx, "signed in", slog.String("user.id", string(u.ID)))
	return signed, nil
}

func (a *Accounts) newSession(ctx context.Context, tx *ent.Tx, u *ent.User) (*Signed, error) {
	token, hash := newToken(sessionTokenPrefix)
	now := a.now()
	s, err := tx.Session.Create().
		SetUserID(u.ID).
		SetTokenHash(hash).
		SetCreatedAt(now).
		SetLastSeenAt(now).
		SetExpiresAt(now.Add(a.cfg.SessionMaxAge)).
		Save(viewer.System(ctx))
	if err != nil {
		return nil, err
	}
	return &Signed{
		User: u, Token: token, Expires: s.ExpiresAt,
		Viewer: &viewer.Viewer{UserID: u.ID, Role: viewer.Role(u.Role), Method: viewer.MethodSession, CredentialID: string(s.ID)},
	}, nil
}

// SignOut ends the session of the request. It is not an error to sign out
// without one.
func (a *Accounts) SignOut(ctx context.Context) error {
	v := viewer.FromContext(ctx)
	if v == nil || v.Method != viewer.MethodSession {
		return nil
	}
	return a.revokeSession(ctx, v.CredentialID)
}

func (a *Accounts) revokeSession(ctx context.Context, id string) error {
	return a.client.Session.Update().
		Where(session.ID(pulid.ID(id)), session.RevokedAtIsNil()).
		SetRevokedAt(a.now()).
		Exec(viewer.System(ctx))
}

// Authenticate returns the viewer a token proves: a session token, a
// personal API token, or (when OpenID Connect is set up) an access token
// of the provider. Unknown, revoked, expired and forged tokens are
// ErrUnauthenticated.
func (a *Accounts) Authenticate(ctx context.Context, token string) (*viewer.Viewer, error) {
	switch {
	case wellFormed(token, sessionTokenPrefix):
		return a.authSession(ctx, token)
	case wellFormed(token, apiTokenPrefix):
		return a.authAPIToken(ctx, token)
	case a.cfg.OIDC != nil && strings.Count(token, ".") == 2:
		id, err := a.cfg.OIDC.VerifyAccessToken(ctx, token)
		if err != nil {
			a.log.InfoContext(ctx, "refused an access token", telemetry.Error(err))
			return nil, fmt.Errorf("%w: invalid access token", ErrUnauthenticated)
		}
		u, err := a.LinkOIDC(ctx, id)
		if err != nil {
			return nil, err
		}
		return &viewer.Viewer{UserID: u.ID, Role: viewer.Role(u.Role), Method: viewer.MethodOIDC, CredentialID: id.Subject, Expiry: id.Expiry}, nil
	}
	return nil, fmt.Errorf("%w: invalid token", ErrUnauthenticated)
}

// touchEvery is how stale last-seen and last-used times may get before a
// use writes them again: a write per request would cost more than the
// request.
const touchEvery = time.Minute

func (a *Accounts) authSession(ctx context.Context, token string) (*viewer.Viewer, error) {
	sys := viewer.System(ctx)
	hash := hashToken(token)
	s, err := a.client.Session.Query().Where(session.TokenHash(hash)).WithUser().Only(sys)
	if ent.IsNotFound(err) {
		return nil, fmt.Errorf("%w: unknown session", ErrUnauthenticated)
	}
	if err != nil {
		return nil, err
	}
	now := a.now()
	if subtle.ConstantTimeCompare(s.TokenHash, hash) != 1 || !a.sessionValid(s, now) {
		return nil, fmt.Errorf("%w: the session has ended", ErrUnauthenticated)
	}
	if now.Sub(s.LastSeenAt) > touchEvery {
		if err := s.Update().SetLastSeenAt(now).Exec(sys); err != nil {
			a.log.WarnContext(ctx, "recording a session's use failed", telemetry.Error(err))
		}
	}
	u := s.Edges.User
	return &viewer.Viewer{UserID: u.ID, Role: viewer.Role(u.Role), Method: viewer.MethodSession, CredentialID: string(s.ID), Expiry: s.ExpiresAt}, nil
}

func (a *Accounts) sessionValid(s *ent.Session, now time.Time) bool {
	return s.RevokedAt == nil && now.Before(s.ExpiresAt) && now.Before(s.LastSeenAt.Add(a.cfg.SessionIdle))
}

func (a *Accounts) authAPIToken(ctx context.Context, token string) (*viewer.Viewer, error) {
	sys := viewer.System(ctx)
	hash := hashToken(token)
	now := a.now()
	if v, ok := a.tokens.get(hash, now); ok {
		return v, nil
	}
	t, err := a.client.APIToken.Query().Where(apitoken.TokenHash(hash)).WithUser().Only(sys)
	if ent.IsNotFound(err) {
		return nil, fmt.Errorf("%w: unknown API token", ErrUnauthenticated)
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(t.TokenHash, hash) != 1 || !tokenValid(t, now) {
		return nil, fmt.Errorf("%w: the API token is revoked or expired", ErrUnauthenticated)
	}
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > touchEvery {
		if err := t.Update().SetLastUsedAt(now).Exec(sys); err != nil {
			a.log.WarnContext(ctx, "recording an API token's use failed", telemetry.Error(err))
		}
	}
	u := t.Edges.User
	v := &viewer.Viewer{UserID: u.ID, Role: viewer.Role(u.Role), Method: viewer.MethodAPIToken, CredentialID: string(t.ID)}
	if t.ExpiresAt != nil {
		v.Expiry = *t.ExpiresAt
	}
	a.tokens.put(hash, v, now)
	return v, nil
}

func tokenValid(t *ent.APIToken, now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

// LinkOIDC returns the account of a person the OpenID Connect provider
// vouches for, linked by issuer and subject. A new person gets an account
// when sign-up allows it; an existing account with the same verified email
// and no provider link yet is linked.
func (a *Accounts) LinkOIDC(ctx context.Context, id *Identity) (*ent.User, error) {
	sys := viewer.System(ctx)
	u, err := a.client.User.Query().Where(user.OidcIssuer(id.Issuer), user.OidcSubject(id.Subject)).Only(sys)
	if err == nil || !ent.IsNotFound(err) {
		return u, err
	}
	email, err := checkEmail(id.Email)
	if err != nil {
		return nil, fmt.Errorf("%w: the provider gave no usable email address", ErrForbidden)
	}
	if id.EmailVerified {
		existing, err := a.client.User.Query().Where(user.Email(email), user.OidcIssuerIsNil()).Only(sys)
		if err == nil {
			return existing.Update().SetOidcIssuer(id.Issuer).SetOidcSubject(id.Subject).Save(sys)
		}
		if !ent.IsNotFound(err) {
			return nil, err
		}
	}
	var name *string
	if id.Name != "" {
		name = &id.Name
	}
	err = a.inTx(ctx, func(tx *ent.Tx) error {
		u, err = a.createUser(ctx, tx, email, name, nil, id, false)
		return err
	})
	return u, err
}

// SignInOIDC starts a session for a person the provider vouched for in the
// authorization-code flow.
func (a *Accounts) SignInOIDC(ctx context.Context, id *Identity) (*Signed, error) {
	u, err := a.LinkOIDC(ctx, id)
	if err != nil {
		return nil, err
	}
	return a.startSession(ctx, u)
}

// inTx runs fn in a transaction of storybot's own.
func (a *Accounts) inTx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	tx, err := a.client.Tx(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

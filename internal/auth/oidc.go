package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/oauth2"

	"github.com/storybot/storybot/internal/telemetry"
	"github.com/storybot/storybot/internal/textcheck"
)

// OIDCPath is where the OIDC handler is mounted. The web app sends people
// to OIDCPath+"login?next=/a/local/page" to sign in with the provider.
const OIDCPath = "/auth/oidc/"

const (
	oidcLoginPath    = OIDCPath + "login"
	oidcCallbackPath = OIDCPath + "callback"
	// oidcFlowCookie carries one sign-in's state, nonce, PKCE verifier and
	// return page from the login redirect to the callback.
	oidcFlowCookie = "storybot_oidc_flow"
	oidcFlowMaxAge = 10 * time.Minute
	// oidcSignInPage is the web app's sign-in page, where failures land
	// with ?error=<code>.
	oidcSignInPage = "/signin"
	// oidcTimeout bounds each call to the provider (discovery, keys,
	// token exchange, UserInfo).
	oidcTimeout = 10 * time.Second
	// oidcUserInfoCacheSize is how many access tokens' UserInfo answers
	// are remembered.
	oidcUserInfoCacheSize = 4096
	// maxNameLen is the longest name an account may have, in bytes (the
	// schema's limit).
	maxNameLen = 200
)

// The codes a failed sign-in adds to the sign-in page's URL
// (/signin?error=<code>).
const (
	oidcErrAccessDenied = "access_denied" // the person declined at the provider
	oidcErrProvider     = "provider"      // the provider answered with another error
	oidcErrState        = "state"         // no sign-in under way, or it expired or does not match
	oidcErrExchange     = "exchange"      // the code could not be exchanged for tokens
	oidcErrIDToken      = "id_token"      // the provider's ID token is missing or invalid
	oidcErrForbidden    = "forbidden"     // no account may be made (sign-up closed, no usable email)
	oidcErrEmailInUse   = "email_in_use"  // another account has this (unverified) email
	oidcErrInternal     = "internal"      // storybot failed
)

// asymmetricAlgs are the signature algorithms accepted on access tokens:
// public-key ones only, so that neither "none" nor an HMAC keyed with the
// provider's public key can pass.
var asymmetricAlgs = []string{
	oidc.RS256, oidc.RS384, oidc.RS512,
	oidc.PS256, oidc.PS384, oidc.PS512,
	oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.EdDSA,
}

// OIDCConfig says which OpenID Connect provider storybot signs people in
// with.
type OIDCConfig struct {
	// IssuerURL is the provider's issuer, where discovery starts
	// (required).
	IssuerURL string
	// ClientID and ClientSecret are storybot's client at the provider
	// (ClientID required; ClientSecret may be empty for a public client).
	ClientID, ClientSecret string
	// Name is the provider's name for the sign-in button (the issuer's
	// host).
	Name string
	// PublicURL is storybot's address as browsers see it, such as
	// https://storybot.example.com. The provider sends people back to
	// PublicURL/auth/oidc/callback, which must be registered with it. When
	// empty, the address is taken from each request (scheme from TLS, host
	// from Host), which is wrong behind a proxy that terminates TLS.
	PublicURL string
	// Logger receives the sign-in failures (slog.Default()).
	Logger *slog.Logger
}

// OIDC signs people in with an OpenID Connect provider (the
// authorization-code flow with PKCE) and verifies the provider's access
// tokens as bearer tokens.
type OIDC struct {
	name      string
	publicURL string
	provider  *oidc.Provider
	oauth     *oauth2.Config
	idTokens  *oidc.IDTokenVerifier
	access    *oidc.IDTokenVerifier
	client    *http.Client
	userInfo  *lru.Cache[[sha256.Size]byte, userInfoEntry]
	log       *slog.Logger
}

// NewOIDC discovers the provider at cfg.IssuerURL (its endpoints and its
// signing keys).
func NewOIDC(ctx context.Context, cfg OIDCConfig) (*OIDC, error) {
	if cfg.IssuerURL == "" || cfg.ClientID == "" {
		return nil, errors.New("auth: OpenID Connect needs an issuer URL and a client ID")
	}
	issuer, err := url.Parse(cfg.IssuerURL)
	if err != nil || issuer.Host == "" || (issuer.Scheme != "https" && issuer.Scheme != "http") {
		return nil, fmt.Errorf("auth: the OpenID Connect issuer %q is not an http(s) URL", cfg.IssuerURL)
	}
	publicURL := ""
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("auth: the public URL %q is not an http(s) URL such as https://storybot.example.com", cfg.PublicURL)
		}
		publicURL = strings.TrimSuffix(u.String(), "/")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With(slog.String("log.logger", "oidc"))
	if issuer.Scheme != "https" {
		// Keys fetched over plain HTTP can be swapped on the way, and
		// with them any token forged; fine for a provider on the same
		// machine or a private network, so warn rather than refuse.
		log.WarnContext(ctx, "the OpenID Connect issuer is not HTTPS: its signing keys travel unprotected", slog.String("storybot.oidc.issuer", cfg.IssuerURL))
	}
	client := &http.Client{Timeout: oidcTimeout}
	// The client in the context serves discovery and, for the provider's
	// lifetime, its key set.
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), cfg.IssuerURL)
	if err != nil {
		return nil, fmt.Errorf("auth: discovering the OpenID Connect provider %s: %w", cfg.IssuerURL, err)
	}
	cache, err := lru.New[[sha256.Size]byte, userInfoEntry](oidcUserInfoCacheSize)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	name := cfg.Name
	if name == "" {
		name = issuer.Hostname()
	}
	return &OIDC{
		name:      name,
		publicURL: publicURL,
		provider:  provider,
		// RedirectURL stays empty: it may depend on the request, so each
		// call passes redirect_uri as an option instead.
		oauth: &oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint:     provider.Endpoint(),
			Scopes:       []string{oidc.ScopeOpenID, oidc.ScopeEmail, oidc.ScopeProfile},
		},
		// ID tokens: the algorithms the provider advertises for them
		// (go-oidc keeps only asymmetric ones).
		idTokens: provider.Verifier(&oidc.Config{ClientID: cfg.ClientID}),
		// Access tokens may be signed differently from ID tokens, but
		// always with a key from the provider's key set.
		access:   provider.Verifier(&oidc.Config{ClientID: cfg.ClientID, SupportedSigningAlgs: asymmetricAlgs}),
		client:   client,
		userInfo: cache,
		log:      log,
	}, nil
}

// Name is the provider's name, for the sign-in button.
func (o *OIDC) Name() string { return o.name }

// VerifyAccessToken checks an access token of the provider: a JWT signed
// with one of the provider's keys, issued by it for storybot's client ID,
// and not expired. When the token carries no email, the provider's
// UserInfo endpoint is asked, once per token.
func (o *OIDC) VerifyAccessToken(ctx context.Context, raw string) (*Identity, error) {
	t, err := o.access.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("verifying an access token of %s: %w", o.name, err)
	}
	id, err := o.identity(ctx, t, raw)
	if err != nil {
		return nil, fmt.Errorf("access token of %s: %w", o.name, err)
	}
	return id, nil
}

// oidcClaims are the claims storybot reads besides the registered ones.
type oidcClaims struct {
	Email             string      `json:"email"`
	EmailVerified     lenientBool `json:"email_verified"`
	Name              string      `json:"name"`
	PreferredUsername string      `json:"preferred_username"`
}

// lenientBool reads a JSON boolean, or the strings "true" and "false" that
// some providers (AWS Cognito) send instead; anything else is false.
type lenientBool bool

func (b *lenientBool) UnmarshalJSON(data []byte) error {
	s := string(data)
	*b = s == "true" || s == `"true"`
	return nil
}

// identity is the person a verified token names. accessToken, when not
// empty, is used to ask UserInfo for an email the token lacks.
func (o *OIDC) identity(ctx context.Context, t *oidc.IDToken, accessToken string) (*Identity, error) {
	if t.Subject == "" {
		return nil, errors.New("the token names no subject")
	}
	var c oidcClaims
	if err := t.Claims(&c); err != nil {
		return nil, fmt.Errorf("reading the token's claims: %w", err)
	}
	id := &Identity{
		Issuer: t.Issuer, Subject: t.Subject,
		Email: c.Email, EmailVerified: bool(c.EmailVerified),
		Name:   displayName(c.Name, c.PreferredUsername),
		Expiry: t.Expiry,
	}
	if id.Email == "" && accessToken != "" {
		info, err := o.fetchUserInfo(ctx, t.Subject, t.Expiry, accessToken)
		if err != nil {
			return nil, err
		}
		id.Email, id.EmailVerified = info.Email, info.EmailVerified
		if id.Name == "" {
			id.Name = info.Name
		}
	}
	return id, nil
}

// userInfoEntry is what UserInfo said about an access token's person.
type userInfoEntry struct {
	Email         string
	EmailVerified bool
	Name          string
	expiry        time.Time
}

// fetchUserInfo asks the provider's UserInfo endpoint about the person of
// accessToken, whose subject must be sub. Answers are remembered until the
// token expires: a client sending the same token with each request costs
// the provider one call, not one per request.
func (o *OIDC) fetchUserInfo(ctx context.Context, sub string, expiry time.Time, accessToken string) (userInfoEntry, error) {
	key := sha256.Sum256([]byte(accessToken))
	if e, ok := o.userInfo.Get(key); ok && time.Now().Before(e.expiry) {
		return e, nil
	}
	info, err := o.provider.UserInfo(oidc.ClientContext(ctx, o.client), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: accessToken, TokenType: "Bearer"}))
	if err != nil {
		return userInfoEntry{}, fmt.Errorf("asking UserInfo for the email: %w", err)
	}
	// OpenID Connect Core 5.3.2: the answer may be trusted only for the
	// token's own subject.
	if info.Subject != sub {
		return userInfoEntry{}, fmt.Errorf("UserInfo answered for subject %q, not %q", info.Subject, sub)
	}
	var c oidcClaims
	if err := info.Claims(&c); err != nil {
		return userInfoEntry{}, fmt.Errorf("reading UserInfo's claims: %w", err)
	}
	e := userInfoEntry{Email: info.Email, EmailVerified: info.EmailVerified, Name: displayName(c.Name, c.PreferredUsername), expiry: expiry}
	o.userInfo.Add(key, e)
	return e, nil
}

// displayName is the account name a provider's claims suggest: the name,
// else the preferred username, cut to the schema's limit; empty when it
// is not acceptable text.
func displayName(name, username string) string {
	s := strings.TrimSpace(name)
	if s == "" {
		s = strings.TrimSpace(username)
	}
	for len(s) > maxNameLen {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	if textcheck.Check(s, 0, maxNameLen) != nil {
		return ""
	}
	return s
}

// Handler serves the authorization-code flow under OIDCPath:
//
//   - GET /auth/oidc/login?next=/page sends the browser to the provider;
//     next is where it ends up once signed in ("/" unless it is a local
//     path).
//   - GET /auth/oidc/callback is where the provider sends it back; it
//     signs the person in (a's SignInOIDC), sets the session cookie and
//     redirects (303) to next.
//
// A failed sign-in redirects to /signin?error=<code>, one of
// access_denied, provider, state, exchange, id_token, forbidden,
// email_in_use, internal; the reason is logged. The handler must be
// mounted behind a.Middleware, which lets it set the session cookie.
func (o *OIDC) Handler(a *Accounts) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+oidcLoginPath, o.login)
	mux.HandleFunc("GET "+oidcCallbackPath, func(w http.ResponseWriter, r *http.Request) { o.callback(w, r, a) })
	return mux
}

// oidcFlow is one sign-in under way, kept in the flow cookie between the
// login redirect and the callback.
type oidcFlow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"r"`
}

func (f *oidcFlow) encode() string {
	b, _ := json.Marshal(f) // only strings: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeFlow(s string) (*oidcFlow, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decoding the flow cookie: %w", err)
	}
	var f oidcFlow
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("decoding the flow cookie: %w", err)
	}
	if f.State == "" || f.Nonce == "" || f.Verifier == "" {
		return nil, errors.New("the flow cookie is incomplete")
	}
	return &f, nil
}

func (o *OIDC) login(w http.ResponseWriter, r *http.Request) {
	f := &oidcFlow{
		State:    rand.Text(),
		Nonce:    rand.Text(),
		Verifier: oauth2.GenerateVerifier(),
		Next:     localPath(r.URL.Query().Get("next")),
	}
	http.SetCookie(w, &http.Cookie{
		Name: oidcFlowCookie, Value: f.encode(), Path: strings.TrimSuffix(OIDCPath, "/"),
		MaxAge: int(oidcFlowMaxAge.Seconds()), HttpOnly: true, Secure: !plainLocalhost(r), SameSite: http.SameSiteLaxMode,
	})
	to := o.oauth.AuthCodeURL(f.State,
		oauth2.SetAuthURLParam("redirect_uri", o.redirectURL(r)),
		oidc.Nonce(f.Nonce),
		oauth2.S256ChallengeOption(f.Verifier),
	)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusFound)
}

func (o *OIDC) callback(w http.ResponseWriter, r *http.Request, a *Accounts) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	q := r.URL.Query()
	var f *oidcFlow
	c, err := r.Cookie(oidcFlowCookie)
	if err == nil {
		// One use only, whatever happens next.
		http.SetCookie(w, &http.Cookie{
			Name: oidcFlowCookie, Path: strings.TrimSuffix(OIDCPath, "/"), MaxAge: -1,
			HttpOnly: true, Secure: !plainLocalhost(r), SameSite: http.SameSiteLaxMode,
		})
		f, err = decodeFlow(c.Value)
	}
	if e := q.Get("error"); e != "" {
		code := oidcErrProvider
		if e == "access_denied" {
			code = oidcErrAccessDenied
		}
		o.fail(w, r, slog.LevelInfo, code, "the provider refused", nil,
			slog.String("storybot.oidc.provider_error", clip(e, 100)), slog.String("storybot.oidc.provider_error_description", clip(q.Get("error_description"), 300)))
		return
	}
	if f == nil {
		o.fail(w, r, slog.LevelWarn, oidcErrState, "no sign-in under way (missing, expired or malformed flow cookie)", err)
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		o.fail(w, r, slog.LevelWarn, oidcErrState, "the state does not match the sign-in under way", nil)
		return
	}
	code := q.Get("code")
	if code == "" {
		o.fail(w, r, slog.LevelWarn, oidcErrExchange, "the provider sent no code", nil)
		return
	}
	tok, err := o.oauth.Exchange(oidc.ClientContext(ctx, o.client), code,
		oauth2.SetAuthURLParam("redirect_uri", o.redirectURL(r)),
		oauth2.VerifierOption(f.Verifier),
	)
	if err != nil {
		o.fail(w, r, slog.LevelWarn, oidcErrExchange, "exchanging the code failed", exchangeError(err))
		return
	}
	id, err := o.verifyIDToken(ctx, tok, f.Nonce)
	if err != nil {
		o.fail(w, r, slog.LevelWarn, oidcErrIDToken, "the ID token is not valid", err)
		return
	}
	signed, err := a.SignInOIDC(ctx, id)
	switch {
	case errors.Is(err, ErrForbidden):
		o.fail(w, r, slog.LevelInfo, oidcErrForbidden, "no account may be made for this person", err)
		return
	case errors.Is(err, ErrInvalidInput):
		o.fail(w, r, slog.LevelInfo, oidcErrEmailInUse, "another account has this email", err)
		return
	case err != nil:
		o.fail(w, r, slog.LevelError, oidcErrInternal, "signing in failed", err)
		return
	}
	if err := SetSessionCookie(ctx, signed); err != nil {
		o.fail(w, r, slog.LevelError, oidcErrInternal, "setting the session cookie failed (is the handler behind Accounts.Middleware?)", err)
		return
	}
	http.Redirect(w, r, localPath(f.Next), http.StatusSeeOther)
}

// verifyIDToken checks the ID token of a code exchange and returns its
// person: signature, issuer, audience, expiry, the nonce of the sign-in,
// and the access token's hash when the token has one.
func (o *OIDC) verifyIDToken(ctx context.Context, tok *oauth2.Token, nonce string) (*Identity, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("the token response has no ID token")
	}
	t, err := o.idTokens.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("verifying the ID token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(t.Nonce), []byte(nonce)) != 1 {
		return nil, errors.New("the ID token's nonce does not match the sign-in's")
	}
	if t.AccessTokenHash != "" {
		if err := t.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, fmt.Errorf("checking the ID token's at_hash: %w", err)
		}
	}
	return o.identity(ctx, t, tok.AccessToken)
}

// exchangeError is err without the provider's response body, which may
// repeat the code.
func exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return fmt.Errorf("the token endpoint answered %d %s", status, clip(re.ErrorCode, 100))
	}
	return err
}

// fail logs why a sign-in failed and sends the browser to the sign-in
// page with a short code. Nothing secret is logged: no code, token or
// cookie.
func (o *OIDC) fail(w http.ResponseWriter, r *http.Request, level slog.Level, code, reason string, err error, attrs ...slog.Attr) {
	attrs = append(attrs, slog.String("error.code", code), slog.String("event.reason", reason))
	if err != nil {
		attrs = append(attrs, telemetry.Error(err))
	}
	o.log.LogAttrs(r.Context(), level, "OpenID Connect sign-in failed", attrs...)
	http.Redirect(w, r, oidcSignInPage+"?error="+url.QueryEscape(code), http.StatusSeeOther)
}

// redirectURL is the callback's absolute URL, which the provider sends
// the browser back to.
func (o *OIDC) redirectURL(r *http.Request) string {
	if o.publicURL != "" {
		return o.publicURL + oidcCallbackPath
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + oidcCallbackPath
}

// localPath returns next when it is a path on this site, else "/": a
// sign-in must never redirect to another site. Browsers read "//host",
// "/\host" and paths with tabs or newlines in them as other sites.
func localPath(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsRune(next, '\\') {
		return "/"
	}
	for _, c := range next {
		if c <= ' ' || c == 0x7f {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	return next
}

// clip cuts s, a value from outside, to at most n bytes for a log line.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Package config reads storybot's settings from environment variables, each
// of which a command-line flag of the same meaning can override.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/storybot/storybot/internal/limits"
)

// Config is every setting of a storybot process.
type Config struct {
	Addr            string
	Env             string
	DataDir         string
	DatabaseURL     string
	DBMaxConns      int
	ShutdownTimeout time.Duration
	ReplicaID       string
	PublicURL       string
	AllowedOrigins  []string
	MetricsAddr     string
	FieldTimings    bool
	PprofAddr       string
	Introspection   *bool // nil: on unless production
	Playground      *bool // nil: on unless production

	LLMBaseURL           string
	LLMAPIKey            string
	LLMModel             string
	LLMSystemPrompt      string
	LLMStreamUsage       bool
	LLMConnectTimeout    time.Duration
	LLMFirstTokenTimeout time.Duration
	LLMIdleTimeout       time.Duration
	LLMContextTokens     int
	StorytellerPace      float64
	StoryMaxTokens       int
	StoryMaxTokensLimit  int

	LogLevel     string
	LogFile      string
	LogstashAddr string

	TrustedProxies          []netip.Prefix
	StoryRatePerMinute      int
	StoryRateBurst          int
	StoryMaxRunning         int
	StoryMaxQueued          int
	MaxBodyBytes            int
	WSMaxSubscriptions      int
	WSMaxConnectionsPerPeer int

	Signup           string
	AdminEmails      []string
	SessionIdle      time.Duration
	SessionMaxAge    time.Duration
	SignInPerMinute  int
	AuthRecheck      time.Duration
	PublicBaseURL    string
	OIDCIssuerURL    string
	OIDCClientID     string
	OIDCClientSecret string
	OIDCName         string
	LLMModels        []string
	UserDailyTokens  int
	UserMaxRunning   int
}

// Production reports whether the process runs with STORYBOT_ENV=production.
func (c Config) Production() bool { return c.Env == "production" }

// IntrospectionEnabled reports whether GraphQL introspection is allowed:
// as set, else everywhere but in production.
func (c Config) IntrospectionEnabled() bool { return orDefault(c.Introspection, !c.Production()) }

// PlaygroundEnabled reports whether /playground is served: as set, else
// everywhere but in production.
func (c Config) PlaygroundEnabled() bool { return orDefault(c.Playground, !c.Production()) }

func orDefault(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// Setting is one configuration variable.
type Setting struct {
	Env     string // environment variable
	Flag    string // command-line flag
	Default string
	Help    string
	parse   func(c *Config, v string) error
}

// Settings lists every setting, in the order the README documents them.
func Settings() []Setting {
	return []Setting{
		{"STORYBOT_ADDR", "addr", ":8080", "HTTP listen address", str(func(c *Config) *string { return &c.Addr })},
		{"STORYBOT_ENV", "env", "development", "`development` or `production` (production turns off introspection and the playground)", func(c *Config, v string) error {
			if v != "development" && v != "production" {
				return fmt.Errorf("must be development or production, not %q", v)
			}
			c.Env = v
			return nil
		}},
		{"STORYBOT_DATA_DIR", "data-dir", "./data", "directory of the embedded SQLite database", str(func(c *Config) *string { return &c.DataDir })},
		{"DATABASE_URL", "database-url", "", "`postgres://` URL of the shared database; empty for the embedded SQLite database", str(func(c *Config) *string { return &c.DatabaseURL })},
		{"STORYBOT_DB_MAX_CONNS", "db-max-conns", "20", "most Postgres connections of this replica's pool (its broker keeps 9 more)", integer(func(c *Config) *int { return &c.DBMaxConns })},
		{"STORYBOT_SHUTDOWN_TIMEOUT", "shutdown-timeout", "15s", "how long a graceful shutdown waits for requests and running stories", dur(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
		{"STORYBOT_REPLICA_ID", "replica-id", "", "this replica's name in story leases; empty for the host name and a random suffix", str(func(c *Config) *string { return &c.ReplicaID })},
		{"STORYBOT_PUBLIC_GRAPHQL_URL", "public-graphql-url", "", "GraphQL URL the web app and playground use, when the API is on another host; empty for `/graphql` on the page's origin", func(c *Config, v string) error {
			if v != "" {
				if u, err := url.Parse(v); err != nil || (u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https") {
					return fmt.Errorf("%q is not an http(s) URL or a path", v)
				}
			}
			c.PublicURL = v
			return nil
		}},
		{"CORS_ALLOWED_ORIGINS", "cors-allowed-origins", "http://localhost:3000,http://localhost:5173,http://localhost:8080,http://127.0.0.1:8080", "comma-separated origins whose pages may call the API and open subscriptions (`*` for any)", func(c *Config, v string) error {
			c.AllowedOrigins = nil
			for _, o := range strings.Split(v, ",") {
				o = strings.TrimRight(strings.TrimSpace(o), "/")
				if o == "" {
					continue
				}
				if o != "*" {
					u, err := url.Parse(o)
					if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
						return fmt.Errorf("%q is not an origin such as https://example.com", o)
					}
				}
				c.AllowedOrigins = append(c.AllowedOrigins, o)
			}
			return nil
		}},
		{"STORYBOT_METRICS_ADDR", "metrics-addr", "", "serve /metrics on this address instead of the main one", addr(func(c *Config) *string { return &c.MetricsAddr })},
		{"STORYBOT_FIELD_TIMINGS", "field-timings", "true", "time every resolver field into `graphql_field_duration_seconds`", boolean(func(c *Config) *bool { return &c.FieldTimings })},
		{"STORYBOT_INTROSPECTION", "introspection", "", "allow GraphQL introspection (`true`/`false`); empty for on, except in production", optionalBool(func(c *Config) **bool { return &c.Introspection })},
		{"STORYBOT_PLAYGROUND", "playground", "", "serve GraphiQL at /playground (`true`/`false`); empty for on, except in production", optionalBool(func(c *Config) **bool { return &c.Playground })},
		{"STORYBOT_PPROF_ADDR", "pprof-addr", "", "serve Go's /debug/pprof on this address (keep it private); empty for off", addr(func(c *Config) *string { return &c.PprofAddr })},

		{"LLM_BASE_URL", "llm-base-url", "", "OpenAI-compatible API root (`https://api.openai.com/v1`, Ollama's `http://localhost:11434/v1`, ...); empty for the built-in offline storyteller", httpURL(func(c *Config) *string { return &c.LLMBaseURL })},
		{"LLM_API_KEY", "llm-api-key", "", "API key sent as a bearer token (prefer the environment variable to the flag)", str(func(c *Config) *string { return &c.LLMAPIKey })},
		{"LLM_MODEL", "llm-model", "gpt-4o-mini", "model to ask for when a request names none", str(func(c *Config) *string { return &c.LLMModel })},
		{"LLM_SYSTEM_PROMPT", "llm-system-prompt", "", "system message sent before the prompt; empty for a built-in storytelling instruction", str(func(c *Config) *string { return &c.LLMSystemPrompt })},
		{"LLM_STREAM_USAGE", "llm-stream-usage", "false", "ask the server for token usage at the end of the stream (some servers reject it)", boolean(func(c *Config) *bool { return &c.LLMStreamUsage })},
		{"LLM_CONNECT_TIMEOUT", "llm-connect-timeout", "10s", "time allowed to connect to the model server", dur(func(c *Config) *time.Duration { return &c.LLMConnectTimeout })},
		{"LLM_FIRST_TOKEN_TIMEOUT", "llm-first-token-timeout", "60s", "time allowed until the first token (loading a model can be slow)", dur(func(c *Config) *time.Duration { return &c.LLMFirstTokenTimeout })},
		{"LLM_IDLE_TIMEOUT", "llm-idle-timeout", "30s", "longest silence allowed between two tokens", dur(func(c *Config) *time.Duration { return &c.LLMIdleTimeout })},
		{"LLM_CONTEXT_TOKENS", "llm-context-tokens", "8192", "the model's context window in tokens: a continued story is sent whole when it fits, else its end (see Personalised stories)", integer(func(c *Config) *int { return &c.LLMContextTokens })},
		{"STORYTELLER_TOKENS_PER_SECOND", "storyteller-tokens-per-second", "25", "pace of the offline storyteller; 0 for no delay", func(c *Config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1e6 {
				return fmt.Errorf("%q is not a number from 0 to 1000000", v)
			}
			c.StorytellerPace = f
			return nil
		}},
		{"STORY_MAX_TOKENS", "story-max-tokens", "600", "tokens a story may have when the request does not say", integer(func(c *Config) *int { return &c.StoryMaxTokens })},
		{"STORY_MAX_TOKENS_LIMIT", "story-max-tokens-limit", "4096", "the most tokens a request may ask for", integer(func(c *Config) *int { return &c.StoryMaxTokensLimit })},

		{"TRUSTED_PROXIES", "trusted-proxies", "", "comma-separated IPs or CIDRs of proxies whose `X-Forwarded-For` names the client (for rate limits); empty trusts none", func(c *Config, v string) error {
			p, err := limits.ParseTrustedProxies(v)
			c.TrustedProxies = p
			return err
		}},
		{"STORY_RATE_PER_MINUTE", "story-rate-per-minute", "10", "stories one client (IP address) may start, continue or regenerate per minute; 0 for no limit", count(func(c *Config) *int { return &c.StoryRatePerMinute })},
		{"STORY_RATE_BURST", "story-rate-burst", "5", "stories one client may start at once before the rate applies", integer(func(c *Config) *int { return &c.StoryRateBurst })},
		{"STORY_MAX_RUNNING", "story-max-running", "64", "stories generated at once by this replica; more wait, PENDING", integer(func(c *Config) *int { return &c.StoryMaxRunning })},
		{"STORY_MAX_QUEUED", "story-max-queued", "256", "stories that may wait for a free generator; beyond, generateStory fails with UNAVAILABLE", count(func(c *Config) *int { return &c.StoryMaxQueued })},
		{"STORYBOT_MAX_BODY_BYTES", "max-body-bytes", "262144", "largest request body; larger ones get 413", integer(func(c *Config) *int { return &c.MaxBodyBytes })},
		{"WS_MAX_SUBSCRIPTIONS", "ws-max-subscriptions", "20", "operations running at once on one websocket", integer(func(c *Config) *int { return &c.WSMaxSubscriptions })},
		{"WS_MAX_CONNECTIONS_PER_CLIENT", "ws-max-connections-per-client", "50", "websockets one client (IP address) may hold open", integer(func(c *Config) *int { return &c.WSMaxConnectionsPerPeer })},

		{"STORYBOT_SIGNUP", "signup", "open", "who may create an account: `open` (anyone), `invite` (an admin creates accounts) or `closed`; the first account on an empty database is always allowed and becomes the admin", func(c *Config, v string) error {
			switch v {
			case "open", "invite", "closed":
				c.Signup = v
				return nil
			}
			return fmt.Errorf("must be open, invite or closed, not %q", v)
		}},
		{"STORYBOT_ADMIN_EMAILS", "admin-emails", "", "comma-separated emails whose accounts are admins", func(c *Config, v string) error {
			c.AdminEmails = list(v)
			return nil
		}},
		{"STORYBOT_SESSION_IDLE", "session-idle", "168h", "a session unused for this long ends", dur(func(c *Config) *time.Duration { return &c.SessionIdle })},
		{"STORYBOT_SESSION_MAX_AGE", "session-max-age", "720h", "a session ends this long after sign-in, however much it is used", dur(func(c *Config) *time.Duration { return &c.SessionMaxAge })},
		{"STORYBOT_AUTH_RECHECK", "auth-recheck", "30s", "how often the credentials of open websockets and share-link streams are checked again: revoked or expired ones end within this time", dur(func(c *Config) *time.Duration { return &c.AuthRecheck })},
		{"SIGNIN_RATE_PER_MINUTE", "signin-rate-per-minute", "10", "sign-ins and sign-ups one client (IP address) may try per minute (each account is slowed too); 0 for no limit", count(func(c *Config) *int { return &c.SignInPerMinute })},
		{"STORYBOT_PUBLIC_URL", "public-url", "", "the URL people reach storybot at (`https://stories.example.com`), for the OpenID Connect redirect; empty for the request's own host", httpURL(func(c *Config) *string { return &c.PublicBaseURL })},
		{"OIDC_ISSUER_URL", "oidc-issuer-url", "", "OpenID Connect provider (its issuer URL) for \"Sign in with ...\" and bearer access tokens; empty for none", httpURL(func(c *Config) *string { return &c.OIDCIssuerURL })},
		{"OIDC_CLIENT_ID", "oidc-client-id", "", "storybot's client ID at the OpenID Connect provider (also the audience of access tokens)", str(func(c *Config) *string { return &c.OIDCClientID })},
		{"OIDC_CLIENT_SECRET", "oidc-client-secret", "", "storybot's client secret at the provider (prefer the environment variable to the flag)", str(func(c *Config) *string { return &c.OIDCClientSecret })},
		{"OIDC_NAME", "oidc-name", "", "the provider's name on the sign-in button (\"Sign in with NAME\"); empty for the issuer's host", str(func(c *Config) *string { return &c.OIDCName })},
		{"LLM_MODELS", "llm-models", "", "comma-separated models generateStory accepts, the first the default; empty for `LLM_MODEL` alone", func(c *Config, v string) error {
			c.LLMModels = list(v)
			return nil
		}},
		{"STORY_USER_DAILY_TOKENS", "story-user-daily-tokens", "0", "model tokens (prompt and completion) one user may use per day (UTC); admins may set one per user; 0 for no limit", count(func(c *Config) *int { return &c.UserDailyTokens })},
		{"STORY_USER_MAX_RUNNING", "story-user-max-running", "3", "stories one user may generate at once, across replicas; 0 for no limit", count(func(c *Config) *int { return &c.UserMaxRunning })},

		{"LOG_LEVEL", "log-level", "info", "`debug`, `info`, `warn` or `error`", func(c *Config, v string) error {
			switch strings.ToLower(v) {
			case "debug", "info", "warn", "error":
				c.LogLevel = strings.ToLower(v)
				return nil
			}
			return fmt.Errorf("must be debug, info, warn or error, not %q", v)
		}},
		{"LOG_FILE", "log-file", "", "also write logs to this file, rotated at 100 MB", str(func(c *Config) *string { return &c.LogFile })},
		{"LOGSTASH_ADDR", "logstash-addr", "", "also ship logs as JSON lines to this Logstash `tcp` input (host:port)", addr(func(c *Config) *string { return &c.LogstashAddr })},
	}
}

// Load reads the configuration from getenv and then args (flags win).
// Usage for -h goes to out.
func Load(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	settings := Settings()
	fs := flag.NewFlagSet("storybot", flag.ContinueOnError)
	fs.SetOutput(out)
	values := make([]*string, len(settings))
	for i, s := range settings {
		v := getenv(s.Env)
		if v == "" {
			v = s.Default
		}
		values[i] = fs.String(s.Flag, v, s.Help+" ("+s.Env+")")
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("config: unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	var (
		c    Config
		errs []error
	)
	for i, s := range settings {
		if err := s.parse(&c, *values[i]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Env, err))
		}
	}
	if (c.OIDCIssuerURL == "") != (c.OIDCClientID == "") {
		errs = append(errs, errors.New("OIDC_ISSUER_URL and OIDC_CLIENT_ID go together: set both or neither"))
	}
	if c.StoryMaxTokens > c.StoryMaxTokensLimit {
		errs = append(errs, fmt.Errorf("STORY_MAX_TOKENS (%d) must not exceed STORY_MAX_TOKENS_LIMIT (%d)", c.StoryMaxTokens, c.StoryMaxTokensLimit))
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// list splits a comma-separated list, dropping empty items.
func list(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Models returns the models generateStory accepts, the default first.
func (c Config) Models() []string {
	if len(c.LLMModels) > 0 {
		return c.LLMModels
	}
	return []string{c.LLMModel}
}

// httpURL parses an absolute http(s) URL, or nothing; a trailing slash is
// kept (an OpenID Connect issuer may have one).
func httpURL(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v != "" {
			if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("%q is not an http(s) URL", v)
			}
		}
		*field(c) = v
		return nil
	}
}

func str(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *field(c) = v; return nil }
}

func addr(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v != "" {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return fmt.Errorf("%q is not a host:port address", v)
			}
		}
		*field(c) = v
		return nil
	}
}

func boolean(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*field(c) = b
		return nil
	}
}

func optionalBool(field func(*Config) **bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v == "" {
			*field(c) = nil
			return nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*field(c) = &b
		return nil
	}
}

// count parses a whole number that may be 0.
func count(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%q is not a whole number", v)
		}
		*field(c) = n
		return nil
	}
}

func integer(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a positive whole number", v)
		}
		*field(c) = n
		return nil
	}
}

// dur parses a Go duration ("15s") or a number of seconds ("15").
func dur(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if n, nerr := strconv.ParseFloat(v, 64); nerr == nil {
			d, err = time.Duration(n*float64(time.Second)), nil
		}
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 15s", v)
		}
		if d < 0 {
			return errors.New("must not be negative")
		}
		*field(c) = d
		return nil
	}
}

// Command storybot serves storybot's GraphQL API: story prompts, stories and
// their live token streams, the web app and the GraphiQL playground.
//
//	storybot            serve (the default)
//	storybot migrate    apply the Postgres migrations and exit
//
// Every setting is an environment variable (see the README) or a flag.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/klauspost/compress/gzhttp"
	"golang.org/x/time/rate"

	_ "github.com/storybot/storybot/ent/runtime" // registers the schema hooks and defaults
	"github.com/storybot/storybot/graph"
	"github.com/storybot/storybot/internal/auth"
	"github.com/storybot/storybot/internal/broker"
	"github.com/storybot/storybot/internal/config"
	"github.com/storybot/storybot/internal/database"
	"github.com/storybot/storybot/internal/export"
	"github.com/storybot/storybot/internal/limits"
	"github.com/storybot/storybot/internal/llm"
	"github.com/storybot/storybot/internal/origins"
	"github.com/storybot/storybot/internal/story"
	"github.com/storybot/storybot/internal/subscription"
	"github.com/storybot/storybot/internal/telemetry"
	"github.com/storybot/storybot/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "storybot:", err)
		os.Exit(1)
	}
}

// run starts storybot and blocks until ctx is done, then shuts down
// gracefully. When ready is not nil it receives the listener's address once
// the server accepts connections (tests use it to pick a free port).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready chan<- string) error {
	command := "serve"
	if len(args) > 0 && (args[0] == "serve" || args[0] == "migrate") {
		command, args = args[0], args[1:]
	}
	cfg, err := config.Load(args, getenv, stderr)
	if err != nil {
		return err
	}
	models := cfg.Models()
	if cfg.LLMBaseURL == "" {
		models = []string{llm.DefaultStorytellerModel} // the offline storyteller is the one model
	}
	metrics := telemetry.NewMetrics(telemetry.MetricsOptions{Models: models})
	logger, closeLogs, err := telemetry.NewLogger(telemetry.LogConfig{
		Level: cfg.LogLevel, Environment: cfg.Env, File: cfg.LogFile, LogstashAddr: cfg.LogstashAddr,
		ServiceVersion: version(),
	}, stdout, metrics)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = closeLogs(ctx)
	}()

	// Traces: configured by the standard OTEL_* variables, off without an
	// endpoint; the spans still buffered are exported on the way out.
	tracing, err := telemetry.NewTracing(ctx, telemetry.TracingConfigFromEnv(getenv), version())
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tracing.Shutdown(ctx); err != nil {
			logger.Warn("exporting the last spans failed", telemetry.Error(err))
		}
	}()

	dbOpts := database.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, MaxOpenConns: cfg.DBMaxConns}
	if tracing.Enabled() {
		dbOpts.TracerProvider = tracing.TracerProvider()
	}
	db, err := database.Open(ctx, dbOpts)
	if err != nil {
		return err
	}
	defer db.Close()
	if command == "migrate" {
		logger.Info("database schema is up to date", slog.String("storybot.database.dialect", db.Dialect))
		return nil
	}
	if err := metrics.RegisterDB(db.SQL, "storybot"); err != nil {
		return err
	}

	var events broker.Broker = broker.NewMemory()
	if cfg.DatabaseURL != "" {
		// The broker publishes through a small pool of its own, so that story
		// text reaches other replicas without queueing behind queries.
		if events, err = broker.NewPostgres(ctx, cfg.DatabaseURL, logger); err != nil {
			return err
		}
	}
	defer events.Close()

	gen, model, err := generator(cfg, tracing)
	if err != nil {
		return err
	}
	owner := cfg.ReplicaID
	if owner == "" {
		host, _ := os.Hostname()
		owner = fmt.Sprintf("%s-%06x", host, rand.Uint32()&0xffffff)
	}
	gate := limits.NewGate(cfg.StoryMaxRunning, cfg.StoryMaxQueued)
	if err := metrics.RegisterStoryGauges(gate.Active, gate.Queued); err != nil {
		return err
	}
	stories := story.New(db.Client, gen, events, story.Config{
		Owner: owner, Models: models, Dialect: db.Dialect, DB: db.SQL,
		UserDailyTokens: cfg.UserDailyTokens, UserMaxRunning: cfg.UserMaxRunning,
		DefaultMaxTokens: cfg.StoryMaxTokens, MaxMaxTokens: cfg.StoryMaxTokensLimit,
		Logger: logger, Observer: metrics, Gate: gate, Tracing: tracing,
	})
	sweepCtx, stopSweeper := context.WithCancel(context.WithoutCancel(ctx))
	sweeperDone := make(chan struct{})
	go func() { defer close(sweeperDone); stories.Run(sweepCtx) }()
	defer func() { stopSweeper(); <-sweeperDone }()

	authCfg := auth.Config{
		Signup: auth.SignupMode(cfg.Signup), AdminEmails: cfg.AdminEmails,
		SessionIdle: cfg.SessionIdle, SessionMaxAge: cfg.SessionMaxAge,
		Dialect: db.Dialect, Logger: logger,
	}
	var oidc *auth.OIDC
	if cfg.OIDCIssuerURL != "" {
		oidc, err = auth.NewOIDC(ctx, auth.OIDCConfig{
			IssuerURL: cfg.OIDCIssuerURL, ClientID: cfg.OIDCClientID, ClientSecret: cfg.OIDCClientSecret,
			Name: cfg.OIDCName, PublicURL: cfg.PublicBaseURL, Logger: logger,
		})
		if err != nil {
			return err
		}
		authCfg.OIDC = oidc
	}
	accounts := auth.New(db.Client, authCfg)
	watcher := accounts.NewWatcher(cfg.AuthRecheck)
	watchDone := make(chan struct{})
	go func() { defer close(watchDone); watcher.Run(sweepCtx) }()
	defer func() { stopSweeper(); <-watchDone }()

	allowed := origins.New(cfg.AllowedOrigins)
	ext := telemetry.NewGraphQLExtension(metrics, logger, telemetry.WithFieldTimings(cfg.FieldTimings))
	extensions := []graphql.HandlerExtension{ext}
	if tracing.Enabled() {
		extensions = append(extensions, telemetry.GraphQLSpans{Tracing: tracing})
	}
	if cfg.SignInPerMinute > 0 {
		// Guessing passwords is slowed per client here, and per account
		// by the accounts service.
		extensions = append(extensions, graph.RateLimit{
			Fields:  []string{"Mutation.signIn", "Mutation.signUp"},
			Limiter: limits.NewRateLimiter[netip.Prefix](rate.Limit(float64(cfg.SignInPerMinute)/60), max(cfg.SignInPerMinute/2, 1)),
		})
	}
	if cfg.StoryRatePerMinute > 0 {
		extensions = append(extensions, graph.RateLimit{
			Fields:  []string{"Mutation.generateStory", "Mutation.continueStory", "Mutation.regenerateStory"},
			Limiter: limits.NewRateLimiter[netip.Prefix](rate.Limit(float64(cfg.StoryRatePerMinute)/60), cfg.StoryRateBurst),
		})
	}
	wsInit := accounts.WebsocketInit(watcher)
	sockets := &subscription.Websocket{
		CheckOrigin:       allowed.AllowRequest,
		MaxSubscriptions:  cfg.WSMaxSubscriptions,
		MaxConnsPerClient: cfg.WSMaxConnectionsPerPeer,
		ClientKey: func(r *http.Request) string {
			return limits.ClientKey(limits.ClientIP(r, cfg.TrustedProxies)).String()
		},
		ReadLimit: int64(cfg.MaxBodyBytes),
		InitFunc: func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			ctx, ack, err := ext.WebsocketInit(ctx, payload)
			if err == nil {
				ctx, err = wsInit(ctx, payload)
			}
			return ctx, ack, err
		},
		CloseFunc:   ext.WebsocketClose,
		InitTimeout: 3 * time.Second,
		KeepAlive:   6 * time.Second,
	}
	gql := graph.NewHandler(graph.NewSchema(db.Client, stories, accounts, watcher), graph.HandlerOptions{
		Logger:          logger,
		Introspection:   cfg.IntrospectionEnabled(),
		HideSuggestions: cfg.Production(),
		Extensions:      extensions,
		Transports:      []graphql.Transport{sockets, &subscription.SSE{KeepAlive: 10 * time.Second}},
	})
	mux := http.NewServeMux()
	// CORS before the body limit, so that browsers can read a 413.
	mux.Handle("/graphql", metrics.InstrumentHTTP("graphql", allowed.Middleware(
		limits.ClientIPMiddleware(cfg.TrustedProxies)(limits.BodyLimit(int64(cfg.MaxBodyBytes))(
			accounts.Middleware(gql))))))
	if oidc != nil {
		mux.Handle(auth.OIDCPath, metrics.InstrumentHTTP("oidc", accounts.Middleware(oidc.Handler(accounts))))
	}
	mux.Handle(export.Pattern, metrics.InstrumentHTTP("export", export.New(db.Client, stories, accounts, logger)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := db.Ping(r.Context()); err != nil {
			logger.WarnContext(r.Context(), "not ready: database unreachable", telemetry.Error(err))
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "database unreachable\n")
			return
		}
		io.WriteString(w, "ok\n")
	})
	if cfg.MetricsAddr == "" {
		mux.Handle("GET /metrics", metrics.Handler())
	}
	// The bundle is large (GraphiQL's editor alone is megabytes): compress it.
	pages := web.Options{GraphQLURL: cfg.PublicURL, DisablePlayground: !cfg.PlaygroundEnabled()}
	if oidc != nil {
		pages.OIDCName = oidc.Name()
	}
	mux.Handle("/", metrics.InstrumentHTTP("web", gzhttp.GzipHandler(web.New(pages))))

	srv := &http.Server{
		// Every response, the API's too, carries the security headers.
		Handler:           tracing.Middleware(web.SecurityHeadersFor(pages)(mux)),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	servers := []*http.Server{srv}
	listeners := []net.Listener{ln}
	if cfg.PprofAddr != "" {
		pln, err := net.Listen("tcp", cfg.PprofAddr)
		if err != nil {
			ln.Close()
			return err
		}
		pprofMux := http.NewServeMux()
		pprofMux.HandleFunc("/debug/pprof/", pprof.Index)
		pprofMux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		pprofMux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		pprofMux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		pprofMux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		servers = append(servers, &http.Server{Handler: pprofMux, ReadHeaderTimeout: 10 * time.Second})
		listeners = append(listeners, pln)
	}
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return err
		}
		metricsMux := http.NewServeMux()
		metricsMux.Handle("GET /metrics", metrics.Handler())
		servers = append(servers, &http.Server{Handler: metricsMux, ReadHeaderTimeout: 10 * time.Second})
		listeners = append(listeners, mln)
	}
	logger.Info("storybot listening",
		slog.String("server.address", ln.Addr().String()), slog.String("storybot.database.dialect", db.Dialect),
		slog.String("storybot.story.generator", model), slog.String("storybot.replica", owner))
	if ready != nil {
		ready <- ln.Addr().String()
	}

	serveErr := make(chan error, len(servers))
	for i, s := range servers {
		go func() { serveErr <- s.Serve(listeners[i]) }()
	}
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}

	// Shutdown: stop accepting and let in-flight requests finish, while the
	// running stories finish (or end as interrupted, text kept) and their
	// subscribers get the final event; then close the websockets that are
	// left, with a reason.
	logger.Info("shutting down", slog.Duration("storybot.shutdown.timeout", cfg.ShutdownTimeout))
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	httpDone := make(chan error, len(servers))
	for _, s := range servers {
		go func() { httpDone <- s.Shutdown(shutdownCtx) }()
	}
	drainCtx, cancelDrain := context.WithTimeout(shutdownCtx, cfg.ShutdownTimeout*3/4)
	defer cancelDrain()
	_ = stories.Shutdown(drainCtx)
	sockets.CloseAll(subscription.CloseGoingAway, "server shutting down") // after what is queued: the final events, the completions
	for range servers {
		if err := <-httpDone; err != nil {
			logger.Warn("shutdown did not finish in time; closing connections", telemetry.Error(err))
			for _, s := range servers {
				s.Close()
			}
		}
	}
	for range servers {
		if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	logger.Info("stopped")
	return nil
}

// version names this build: the module version, else the VCS revision Go
// recorded, else "devel".
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return s.Value[:12]
		}
	}
	return "devel"
}

// generator returns the story generator the configuration asks for, and the
// model name stories record by default.
func generator(cfg config.Config, tracing *telemetry.Tracing) (story.Generator, string, error) {
	if cfg.LLMBaseURL == "" {
		return &llm.Storyteller{TokensPerSecond: cfg.StorytellerPace}, llm.DefaultStorytellerModel, nil
	}
	g, err := llm.NewOpenAI(llm.OpenAIConfig{
		BaseURL: cfg.LLMBaseURL, APIKey: cfg.LLMAPIKey, Model: cfg.LLMModel,
		SystemPrompt: cfg.LLMSystemPrompt, StreamUsage: cfg.LLMStreamUsage,
		ConnectTimeout: cfg.LLMConnectTimeout, FirstTokenTimeout: cfg.LLMFirstTokenTimeout,
		IdleTimeout: cfg.LLMIdleTimeout, ContextTokens: cfg.LLMContextTokens,
		// traceparent (and a client span when tracing is on) goes to the
		// model server with every request.
		HTTPClient: &http.Client{Transport: tracing.Transport(http.DefaultTransport.(*http.Transport).Clone())},
	})
	if err != nil {
		return nil, "", err
	}
	return g, cfg.LLMModel, nil
}

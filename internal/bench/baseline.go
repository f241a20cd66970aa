//go:build linux

package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// baselineSQL is the statement Ent runs for
// prompts(first: 20) { edges { node { id content createdAt } } }: the
// fields asked for, of the viewer's own prompts (storybot's privacy
// rules), newest first, one row more than asked to learn whether there is
// a next page. The harness checks it against pg_stat_activity.
const baselineSQL = `SELECT "prompts"."id", "prompts"."content", "prompts"."created_at" FROM "prompts" WHERE "prompts"."user_id" = $1 ORDER BY "prompts"."created_at" DESC, "prompts"."id" DESC LIMIT 21`

// baselineAllSQL is the same query over every prompt, for a request with
// no viewer: only the in-process BenchmarkPromptsQuery sends those, as it
// gives storybot's handler its viewer without the accounts middleware.
const baselineAllSQL = `SELECT "prompts"."id", "prompts"."content", "prompts"."created_at" FROM "prompts" ORDER BY "prompts"."created_at" DESC, "prompts"."id" DESC LIMIT 21`

// baselineTokenSQL and baselineUserSQL are the statements storybot's
// accounts middleware runs to check an API token (Ent's query of the token
// by its hash, with its user); the harness checks them against
// pg_stat_activity too. storybot also writes the token's last use, at most
// once a minute: too rare to matter here, and left out.
const (
	baselineTokenSQL = `SELECT "api_tokens"."id", "api_tokens"."user_id", "api_tokens"."name", "api_tokens"."token_hash", "api_tokens"."created_at", "api_tokens"."last_used_at", "api_tokens"."expires_at", "api_tokens"."revoked_at" FROM "api_tokens" WHERE "api_tokens"."token_hash" = $1 LIMIT 2`
	baselineUserSQL  = `SELECT "users"."id", "users"."created_at", "users"."updated_at", "users"."email", "users"."name", "users"."password_hash", "users"."role", "users"."oidc_issuer", "users"."oidc_subject", "users"."daily_token_limit" FROM "users" WHERE "users"."id" IN ($1)`
)

// baselinePageSize is the page the baseline returns, as first: 20 asks.
const baselinePageSize = 20

// baselineEdgePromptsSQL and baselineEdgeStoriesSQL are the statements Ent
// runs for edgeQuery (graph/preload_test.go counts them): the page of
// prompts, then the first stories of all of them at once (one more than
// stories(first: 3) asks, per prompt). The second has a placeholder per
// prompt, as Ent writes it.
const (
	baselineEdgePromptsSQL   = `SELECT "prompts"."id", "prompts"."created_at" FROM "prompts" WHERE "prompts"."user_id" = $1 ORDER BY "prompts"."created_at" DESC, "prompts"."id" DESC LIMIT 21`
	baselineEdgeStoriesSQL   = `WITH "src_query" AS (SELECT "stories"."id", "stories"."status", "stories"."prompt_id" FROM "stories" WHERE "stories"."prompt_id" IN (%s) AND "stories"."user_id" = $%d), "limited_query" AS (SELECT *, (ROW_NUMBER() OVER (PARTITION BY "prompt_id" ORDER BY "id" ASC)) AS "row_number" FROM "src_query") SELECT "id", "status", "prompt_id" FROM "limited_query" AS "stories" WHERE "stories"."row_number" <= $%d`
	baselineStoriesPerPrompt = 3
)

// baselineHandler is the plain net/http handler storybot's query path is
// compared with: behind baselineAuth, it reads the same JSON request, runs
// the same SQL through the same driver and pool size, and writes the same
// JSON answer (with a trace ID in extensions and X-Trace-Id, as storybot
// does), with nothing else. It answers promptsQuery, and edgeQuery when the
// query asks for stories.
type baselineHandler struct{ db *sql.DB }

// baselineUserKey is the context key of the user baselineAuth found.
type baselineUserKey struct{}

// baselineAuth checks a request's API token as storybot's accounts
// middleware does, with the same statements (baselineTokenSQL, then
// baselineUserSQL), and passes the token's user on to next. A request
// without a valid token gets 401.
type baselineAuth struct {
	db   *sql.DB
	next http.Handler
}

func (a baselineAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		http.Error(w, `{"errors":[{"message":"sign in first"}]}`, http.StatusUnauthorized)
		return
	}
	userID, err := a.user(r.Context(), token)
	if err != nil {
		http.Error(w, `{"errors":[{"message":"invalid credentials"}]}`, http.StatusUnauthorized)
		return
	}
	a.next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), baselineUserKey{}, userID)))
}

// user returns the id of the user whose valid API token token is. It scans
// every column, as Ent does.
func (a baselineAuth) user(ctx context.Context, token string) (string, error) {
	sum := sha256.Sum256([]byte(token))
	var (
		id, userID, name                 string
		hash                             []byte
		createdAt                        time.Time
		lastUsedAt, expiresAt, revokedAt *time.Time
	)
	if err := a.db.QueryRowContext(ctx, baselineTokenSQL, sum[:]).Scan(
		&id, &userID, &name, &hash, &createdAt, &lastUsedAt, &expiresAt, &revokedAt); err != nil {
		return "", err
	}
	if subtle.ConstantTimeCompare(hash, sum[:]) != 1 || revokedAt != nil || (expiresAt != nil && !time.Now().Before(*expiresAt)) {
		return "", errors.New("the API token is revoked or expired")
	}
	var (
		uid, email, role                         string
		created, updated                         time.Time
		uname, password, oidcIssuer, oidcSubject *string
		dailyLimit                               *int64
	)
	err := a.db.QueryRowContext(ctx, baselineUserSQL, userID).Scan(
		&uid, &created, &updated, &email, &uname, &password, &role, &oidcIssuer, &oidcSubject, &dailyLimit)
	return uid, err
}

type baselinePrompt struct {
	ID        string    `json:"id"`
	Content   string    `json:"content"`
	CreatedAt time.Time `json:"createdAt"`
}

type baselineEdge struct {
	Node baselinePrompt `json:"node"`
}

type baselineStory struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

type baselineStoryEdge struct {
	Node baselineStory `json:"node"`
}

type baselineEdgePrompt struct {
	ID      string `json:"id"`
	Stories struct {
		Edges []baselineStoryEdge `json:"edges"`
	} `json:"stories"`
}

type baselineEdgeEdge struct {
	Node *baselineEdgePrompt `json:"node"`
}

type baselineEdgeResponse struct {
	Data struct {
		Prompts struct {
			Edges []baselineEdgeEdge `json:"edges"`
		} `json:"prompts"`
	} `json:"data"`
	Extensions struct {
		TraceID string `json:"traceId"`
	} `json:"extensions"`
}

// edge answers edgeQuery for userID with Ent's two statements.
func (h baselineHandler) edge(w http.ResponseWriter, r *http.Request, userID string) {
	fail := func() { http.Error(w, `{"errors":[{"message":"database"}]}`, http.StatusInternalServerError) }
	rows, err := h.db.QueryContext(r.Context(), baselineEdgePromptsSQL, userID)
	if err != nil {
		fail()
		return
	}
	var resp baselineEdgeResponse
	edges := make([]baselineEdgeEdge, 0, baselinePageSize+1)
	byID := make(map[string]*baselineEdgePrompt, baselinePageSize+1)
	args := make([]any, 0, baselinePageSize+3)
	var marks strings.Builder
	for rows.Next() {
		p := &baselineEdgePrompt{}
		var created time.Time
		if err := rows.Scan(&p.ID, &created); err != nil {
			rows.Close()
			fail()
			return
		}
		p.Stories.Edges = []baselineStoryEdge{}
		edges = append(edges, baselineEdgeEdge{Node: p})
		byID[p.ID] = p
		if len(args) > 0 {
			marks.WriteString(", ")
		}
		args = append(args, p.ID)
		fmt.Fprintf(&marks, "$%d", len(args))
	}
	rows.Close()
	if rows.Err() != nil {
		fail()
		return
	}
	if len(args) > 0 {
		args = append(args, userID, baselineStoriesPerPrompt+1)
		srows, err := h.db.QueryContext(r.Context(), fmt.Sprintf(baselineEdgeStoriesSQL, marks.String(), len(args)-1, len(args)), args...)
		if err != nil {
			fail()
			return
		}
		defer srows.Close()
		for srows.Next() {
			var s baselineStory
			var promptID string
			if err := srows.Scan(&s.ID, &s.Status, &promptID); err != nil {
				fail()
				return
			}
			if p := byID[promptID]; p != nil && len(p.Stories.Edges) < baselineStoriesPerPrompt {
				p.Stories.Edges = append(p.Stories.Edges, baselineStoryEdge{Node: s})
			}
		}
		if srows.Err() != nil {
			fail()
			return
		}
	}
	if len(edges) > baselinePageSize {
		edges = edges[:baselinePageSize]
	}
	resp.Data.Prompts.Edges = edges
	resp.Extensions.TraceID = baselineTraceID()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Trace-Id", resp.Extensions.TraceID)
	json.NewEncoder(w).Encode(&resp)
}

// baselineTraceID returns a new random trace ID, as storybot makes one.
func baselineTraceID() string {
	var id [16]byte
	rand.Read(id[:])
	return hex.EncodeToString(id[:])
}

type baselineResponse struct {
	Data struct {
		Prompts struct {
			Edges []baselineEdge `json:"edges"`
		} `json:"prompts"`
	} `json:"data"`
	Extensions struct {
		TraceID string `json:"traceId"`
	} `json:"extensions"`
}

func (h baselineHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var req struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || req.Query == "" {
		http.Error(w, `{"errors":[{"message":"bad request"}]}`, http.StatusBadRequest)
		return
	}
	userID, hasUser := r.Context().Value(baselineUserKey{}).(string)
	if hasUser && strings.Contains(req.Query, "stories") {
		h.edge(w, r, userID)
		return
	}
	var rows *sql.Rows
	var err error
	if hasUser {
		rows, err = h.db.QueryContext(r.Context(), baselineSQL, userID)
	} else {
		rows, err = h.db.QueryContext(r.Context(), baselineAllSQL)
	}
	if err != nil {
		http.Error(w, `{"errors":[{"message":"database"}]}`, http.StatusInternalServerError)
		return
	}
	defer rows.Close()
	var resp baselineResponse
	resp.Data.Prompts.Edges = make([]baselineEdge, 0, baselinePageSize+1)
	for rows.Next() {
		var p baselinePrompt
		if err := rows.Scan(&p.ID, &p.Content, &p.CreatedAt); err != nil {
			http.Error(w, `{"errors":[{"message":"database"}]}`, http.StatusInternalServerError)
			return
		}
		resp.Data.Prompts.Edges = append(resp.Data.Prompts.Edges, baselineEdge{Node: p})
	}
	if rows.Err() != nil {
		http.Error(w, `{"errors":[{"message":"database"}]}`, http.StatusInternalServerError)
		return
	}
	if len(resp.Data.Prompts.Edges) > baselinePageSize {
		resp.Data.Prompts.Edges = resp.Data.Prompts.Edges[:baselinePageSize]
	}
	resp.Extensions.TraceID = baselineTraceID()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Trace-Id", resp.Extensions.TraceID)
	json.NewEncoder(w).Encode(&resp)
}

// serveBaseline is the harness running as the baseline server (in a
// process of its own, as storybot is): it serves the query baseline (POST
// /graphql) from the database at dbURL and the fan-out baseline (websockets
// on /graphql, stories started at /hub/stories) on addr, until SIGTERM or
// SIGINT.
func serveBaseline(addr, dbURL string, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	// storybot's pool size (internal/database).
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	mux := http.NewServeMux()
	queries, streams := baselineAuth{db: db, next: baselineHandler{db: db}}, newHub()
	mux.HandleFunc("/graphql", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.Header.Get("Upgrade") != "" {
			streams.ServeHTTP(w, r)
			return
		}
		queries.ServeHTTP(w, r)
	})
	mux.Handle("/hub/", streams)
	mux.HandleFunc("GET /metrics", serveRuntimeMetrics)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		fmt.Fprintln(stderr, "baseline: shutdown:", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

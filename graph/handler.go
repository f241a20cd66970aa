package graph

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/storybot/storybot/internal/limits"
	"github.com/storybot/storybot/internal/telemetry"
)

// HandlerOptions configure the GraphQL HTTP handler.
type HandlerOptions struct {
	// Logger receives internal errors and panics.
	Logger *slog.Logger
	// Introspection allows schema introspection queries.
	Introspection bool
	// Extensions are added before storybot's own (telemetry first).
	Extensions []graphql.HandlerExtension
	// Transports are the streaming ones (websocket, SSE), tried before
	// POST and GET.
	Transports []graphql.Transport
	// Limits bound the shape of an operation (depth, aliases, root fields,
	// fields); the zero value means limits.DefaultQueryLimits.
	Limits limits.QueryLimits
	// ComplexityLimit bounds an operation's cost, connections costed by
	// first/last (limits.DefaultComplexityLimit when zero).
	ComplexityLimit int
	// ParserTokenLimit bounds the tokens of a document (15,000 when zero).
	ParserTokenLimit int
	// HideSuggestions leaves "did you mean" out of validation errors, so
	// they do not reveal the schema (set in production).
	HideSuggestions bool
}

// NewHandler returns the GraphQL server for schema: opts.Transports, POST and
// GET (queries only), parsed-query caching, the error presenter and
// panic recovery, and the page-size limit.
func NewHandler(schema graphql.ExecutableSchema, opts HandlerOptions) *handler.Server {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	srv := handler.New(schema)
	// The first transport that supports a request serves it: the streaming
	// ones look for their own headers, so they go before POST and GET.
	for _, t := range opts.Transports {
		srv.AddTransport(t)
	}
	srv.AddTransport(transport.POST{})
	srv.AddTransport(queryOnlyGET{})
	srv.AddTransport(notGraphQL{})
	// Parsing and validating a query costs more than running a small one:
	// cache them by query text.
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	// Automatic persisted queries: clients may send a query's hash alone.
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	tokens := opts.ParserTokenLimit
	if tokens == 0 {
		tokens = 15_000
	}
	srv.SetParserTokenLimit(tokens)
	srv.SetDisableSuggestion(opts.HideSuggestions)
	// The caller's extensions (telemetry) go first, so they are outermost and
	// see every error, the page limit's included.
	for _, ext := range opts.Extensions {
		srv.Use(ext)
	}
	// Every root field needs a signed-in user unless the schema marks it
	// @public.
	srv.Use(RequireViewer{})
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	}
	// The shape limits go before the complexity limit, which walks every
	// expanded field and would otherwise be slow on fragment bombs.
	shape := opts.Limits
	if shape == (limits.QueryLimits{}) {
		shape = limits.DefaultQueryLimits()
	}
	srv.Use(shape)
	complexity := opts.ComplexityLimit
	if complexity == 0 {
		complexity = limits.DefaultComplexityLimit
	}
	srv.Use(extension.FixedComplexityLimit(complexity))
	srv.Use(PageLimit{})
	srv.SetErrorPresenter(ErrorPresenter(logger))
	srv.SetRecoverFunc(RecoverFunc(logger))
	return srv
}

// queryOnlyGET is gqlgen's GET transport, except that a mutation sent by GET
// gets 405 Method Not Allowed with "Allow: POST", as the GraphQL over HTTP
// specification requires (gqlgen answers 406), and that every refusal
// carries a code and the trace ID. Nothing is executed either way.
type queryOnlyGET struct{ transport.GET }

// Do implements graphql.Transport.
func (t queryOnlyGET) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	rw := &getRefusals{ResponseWriter: w}
	t.GET.Do(rw, r, exec)
	rw.finish(r)
}

// getRefusals holds back what the GET transport writes with an error
// status, so that its refusals (a mutation, variables that are not JSON)
// can be answered as storybot answers every refusal. Errors that went
// through the error presenter already have a code and pass unchanged.
type getRefusals struct {
	http.ResponseWriter
	status int // an error status held back, or 0
	body   bytes.Buffer
}

func (w *getRefusals) WriteHeader(code int) {
	if code == http.StatusNotAcceptable {
		code = http.StatusMethodNotAllowed
		w.Header().Set("Allow", http.MethodPost)
	}
	if code >= http.StatusBadRequest {
		w.status = code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *getRefusals) Write(b []byte) (int, error) {
	if w.status != 0 {
		return w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// finish writes the response held back, if any.
func (w *getRefusals) finish(r *http.Request) {
	if w.status == 0 {
		return
	}
	var resp struct {
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(w.body.Bytes(), &resp)
	if len(resp.Errors) > 0 && resp.Errors[0].Extensions["code"] != nil {
		w.ResponseWriter.WriteHeader(w.status)
		_, _ = w.ResponseWriter.Write(w.body.Bytes())
		return
	}
	msg := "the request is not a GraphQL query that GET can run"
	switch {
	case w.status == http.StatusMethodNotAllowed:
		msg = "GET runs queries only: send mutations with POST"
	case len(resp.Errors) > 0:
		msg = resp.Errors[0].Message // the GET transport's own words, which never quote the request
	}
	telemetry.WriteGraphQLError(w.ResponseWriter, r, w.status, CodeBadRequest, msg)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *getRefusals) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// notGraphQL is the last transport: it answers the requests that no other
// takes (a POST that is not JSON, such as a form a page elsewhere submits;
// another method) with 400 and an explanation.
type notGraphQL struct{}

// Supports implements graphql.Transport.
func (notGraphQL) Supports(*http.Request) bool { return true }

// Do implements graphql.Transport.
func (notGraphQL) Do(w http.ResponseWriter, r *http.Request, _ graphql.GraphExecutor) {
	telemetry.WriteGraphQLError(w, r, http.StatusBadRequest, CodeBadRequest,
		"send GraphQL as a POST with Content-Type: application/json, or a query by GET")
}

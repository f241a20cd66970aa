package graph

import (
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
)

// HandlerOptions configure the GraphQL HTTP handler.
type HandlerOptions struct {
	// Logger receives internal errors and panics.
	Logger *slog.Logger
	// Introspection allows schema introspection queries.
	Introspection bool
	// Extensions are added after storybot's own (telemetry, limits).
	Extensions []graphql.HandlerExtension
	// Transports are added after POST and GET (websocket, SSE).
	Transports []graphql.Transport
}

// NewHandler returns the GraphQL server for schema: POST and GET (queries
// only) plus opts.Transports, parsed-query caching, the error presenter and
// panic recovery, and the page-size limit.
func NewHandler(schema graphql.ExecutableSchema, opts HandlerOptions) *handler.Server {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	srv := handler.New(schema)
	srv.AddTransport(transport.POST{})
	srv.AddTransport(transport.GET{})
	for _, t := range opts.Transports {
		srv.AddTransport(t)
	}
	// Parsing and validating a query costs more than running a small one:
	// cache them by query text.
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(PageLimit{})
	for _, ext := range opts.Extensions {
		srv.Use(ext)
	}
	srv.SetErrorPresenter(ErrorPresenter(logger))
	srv.SetRecoverFunc(RecoverFunc(logger))
	return srv
}

package telemetry_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/storybot/storybot/internal/telemetry"
	"github.com/storybot/storybot/internal/telemetry/internal/testgql"
)

// benchQuery runs 52 resolvers (hello, books, 50 × Book.author) and 150
// plain fields (50 × id, title, Author.name).
const benchQuery = `{"query":"{ hello books(n: 50) { id title author { name } } }"}`

// BenchmarkFieldTimings measures the per-field instrumentation.
//
// query/*: the same query through the whole handler with no telemetry
// extension, with the extension but field timings off, and with them on.
// field/*: the field interceptor alone around an empty resolver, for a
// resolver field and for a plain field.
func BenchmarkFieldTimings(b *testing.B) {
	for _, bc := range []struct {
		name string
		ext  []telemetry.ExtensionOption
		use  bool
	}{
		{name: "none"},
		{name: "off", use: true, ext: []telemetry.ExtensionOption{telemetry.WithFieldTimings(false)}},
		{name: "on", use: true, ext: []telemetry.ExtensionOption{telemetry.WithFieldTimings(true)}},
	} {
		b.Run("query/"+bc.name, func(b *testing.B) {
			srv := handler.New(testgql.NewSchema())
			srv.AddTransport(transport.POST{})
			if bc.use {
				m := telemetry.NewMetrics(telemetry.MetricsOptions{})
				srv.Use(telemetry.NewGraphQLExtension(m, slog.New(slog.DiscardHandler), bc.ext...))
			}
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(benchQuery))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}

	next := func(context.Context) (any, error) { return nil, nil }
	for _, bc := range []struct {
		name     string
		timings  bool
		resolver bool
	}{
		{name: "resolver-off", timings: false, resolver: true},
		{name: "resolver-on", timings: true, resolver: true},
		{name: "plain-on", timings: true, resolver: false},
	} {
		b.Run("field/"+bc.name, func(b *testing.B) {
			m := telemetry.NewMetrics(telemetry.MetricsOptions{})
			ext := telemetry.NewGraphQLExtension(m, slog.New(slog.DiscardHandler), telemetry.WithFieldTimings(bc.timings))
			ctx := graphql.WithFieldContext(context.Background(), &graphql.FieldContext{
				Object:     "Book",
				Field:      graphql.CollectedField{Field: &ast.Field{Name: "author", Alias: "author"}},
				IsResolver: bc.resolver,
			})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ext.InterceptField(ctx, next); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

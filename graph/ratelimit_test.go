package graph_test

import (
	"net/http"
	"net/netip"
	"testing"

	"entgo.io/ent/dialect"
	"github.com/99designs/gqlgen/graphql"
	"golang.org/x/time/rate"

	"github.com/storybot/storybot/graph"
	"github.com/storybot/storybot/internal/broker"
	"github.com/storybot/storybot/internal/database/dbtest"
	"github.com/storybot/storybot/internal/limits"
	"github.com/storybot/storybot/internal/llm"
	"github.com/storybot/storybot/internal/story"
)

// TestRateLimit checks that a limited root field over its limit answers
// null with RATE_LIMITED at its path and location, that other root fields
// and nested fields of the same name are not limited.
func TestRateLimit(t *testing.T) {
	db := dbtest.Open(t, dialect.SQLite)
	stories := story.New(db.Client, &llm.Storyteller{}, broker.NewMemory(), story.Config{})
	h := graph.NewHandler(graph.NewSchema(db.Client, stories, nil, nil), graph.HandlerOptions{
		Extensions: []graphql.HandlerExtension{graph.RateLimit{
			Fields:  []string{"Query.prompts"},
			Limiter: limits.NewRateLimiter[netip.Prefix](rate.Limit(1.0/3600), 1),
		}},
	})
	a := serve(t, db, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(limits.ContextWithClientIP(r.Context(), netip.MustParseAddr("192.0.2.1"))))
	}))
	a.createPrompt("limited")

	const q = `{ p: prompts(first: 1) { edges { node { id } } } }`
	var out struct{ P *struct{ Edges []any } }
	a.mustDo(q, nil, &out)
	if out.P == nil || len(out.P.Edges) != 1 {
		t.Fatalf("first call: %+v", out)
	}
	out.P = nil
	errs := a.do(q, nil, &out)
	if len(errs) != 1 || errs[0].Code() != "RATE_LIMITED" || errs[0].Extensions["retryAfter"] == nil {
		t.Fatalf("second call: %+v, want one RATE_LIMITED with retryAfter", errs)
	}
	if len(errs[0].Path) != 1 || errs[0].Path[0] != "p" {
		t.Errorf("the error's path is %v, want [p] (the alias)", errs[0].Path)
	}
	if out.P != nil {
		t.Errorf("the limited field answered %+v, want null", out.P)
	}
	// Other root fields are not limited.
	var s struct{ Stories struct{ TotalCount int } }
	a.mustDo(`{ stories { totalCount } }`, nil, &s)
}

package limits

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/google/go-cmp/cmp"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// testSchema is shaped like storybot's: Relay connections of stories under
// prompts, a Node interface, and a self-referencing field for deep queries.
var testSchema = func() *ast.Schema {
	var roots strings.Builder
	for i := range 20 {
		fmt.Fprintf(&roots, "  f%d: String\n", i)
	}
	return gqlparser.MustLoadSchema(&ast.Source{Name: "test.graphqls", Input: `
type Query {
  node(id: ID!): Node
  prompt: Prompt
  prompts(first: Int, last: Int, after: String): PromptConnection!
  stories(first: Int, last: Int, after: String): StoryConnection!
` + roots.String() + `}
type Mutation { generate: Story }
type Subscription { stream: Story }
interface Node { id: ID! }
type Prompt implements Node {
  id: ID!
  content: String!
  parent: Prompt
  stories(first: Int, last: Int, after: String): StoryConnection!
}
type Story implements Node {
  id: ID!
  text: String!
  status: String!
  prompt: Prompt!
}
type PromptConnection { edges: [PromptEdge] pageInfo: PageInfo! totalCount: Int! }
type PromptEdge { node: Prompt cursor: String! }
type StoryConnection { edges: [StoryEdge] pageInfo: PageInfo! totalCount: Int! }
type StoryEdge { node: Story cursor: String! }
type PageInfo { hasNextPage: Boolean! endCursor: String }
`})
}()

// testMaxPageSize plays the part of storybot's page-size limit.
const testMaxPageSize = 100

// newQueryServer returns a gqlgen server over testSchema with the query
// limits and a complexity limit that costs connections by first/last; the
// schema executes nothing, so a request either fails its checks or returns
// empty data. The stats QueryLimits recorded for the last operation are kept.
func newQueryServer(t testing.TB, limits QueryLimits) (*handler.Server, func() *QueryStats) {
	t.Helper()
	var (
		mu    sync.Mutex
		stats *QueryStats
	)
	es := &graphql.ExecutableSchemaMock{
		SchemaFunc: func() *ast.Schema { return testSchema },
		ComplexityFunc: func(_ context.Context, typeName, field string, childComplexity int, args map[string]any) (int, bool) {
			switch typeName + "." + field {
			case "Query.prompts", "Query.stories", "Prompt.stories":
				return ConnectionComplexity(childComplexity, intArg(args["first"]), intArg(args["last"]), testMaxPageSize), true
			}
			return 0, false
		},
		ExecFunc: func(ctx context.Context) graphql.ResponseHandler {
			mu.Lock()
			stats = GetQueryStats(ctx)
			mu.Unlock()
			return graphql.OneShot(&graphql.Response{Data: []byte(`{}`)})
		},
	}
	srv := handler.New(es)
	srv.AddTransport(transport.POST{})
	srv.AddTransport(transport.GET{})
	srv.Use(limits)
	srv.Use(extension.FixedComplexityLimit(DefaultComplexityLimit))
	return srv, func() *QueryStats {
		mu.Lock()
		defer mu.Unlock()
		return stats
	}
}

// intArg converts an argument as gqlgen's complexity calculation passes it
// (a literal is an int64, a variable as the transport decoded it) to what
// generated code passes: *int.
func intArg(v any) *int {
	var n int
	switch v := v.(type) {
	case int64:
		n = int(v)
	case int:
		n = v
	case json.Number:
		i, err := v.Int64()
		if err != nil {
			return nil
		}
		n = int(i)
	default:
		return nil
	}
	return &n
}

type gqlResponse struct {
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// post sends a GraphQL request to h and returns the status and response.
func post(t testing.TB, h http.Handler, body map[string]any, accept string) (int, gqlResponse) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(string(b)))
	r.Header.Set("Content-Type", "application/json")
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var resp gqlResponse
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatalf("response %q: %v", w.Body.String(), err)
	}
	return w.Code, resp
}

// nested returns a query whose deepest field is at the given depth.
func nested(depth int) string {
	return "{ prompt {" + strings.Repeat(" parent {", depth-2) + " id" + strings.Repeat(" }", depth-1) + " }"
}

// aliases returns a query with n aliased fields under one root field.
func aliases(n int) string {
	var b strings.Builder
	b.WriteString("{ prompt {")
	for i := range n {
		fmt.Fprintf(&b, " a%d: id", i)
	}
	b.WriteString(" } }")
	return b.String()
}

// rootFields returns a query selecting n distinct root fields.
func rootFields(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, " f%d", i)
	}
	b.WriteString(" }")
	return b.String()
}

// fragmentBomb returns a query whose fragments, each spreading the next
// twice, expand to 2^levels copies of the innermost one.
func fragmentBomb(levels int) string {
	var b strings.Builder
	b.WriteString("{ prompt { ...F0 } }\n")
	for i := range levels {
		fmt.Fprintf(&b, "fragment F%d on Prompt { a: parent { ...F%d } b: parent { ...F%d } }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Prompt { id }\n", levels)
	return b.String()
}

// wideFragmentBomb returns a query whose fragments each spread the next
// twice at the same level: no aliases, no depth, 2^levels fields.
func wideFragmentBomb(levels int) string {
	var b strings.Builder
	b.WriteString("{ prompt { ...F0 } }\n")
	for i := range levels {
		fmt.Fprintf(&b, "fragment F%d on Prompt { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Prompt { id }\n", levels)
	return b.String()
}

// relayQuery is three connections deep, with the fields of a page between:
// depth 12.
const relayQuery = `query Deep($first: Int) {
  stories(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id text prompt {
      stories(first: 5) { edges { node { id prompt {
        stories(first: 2) { edges { node { id text } } }
      } } } }
    } } }
  }
}`

// webClientQuery is the heaviest query storybot's web client sends.
const webClientQuery = `query PromptWithStories($id: ID!, $first: Int!, $after: String) {
  node(id: $id) {
    id
    ... on Prompt {
      ...PromptFields
      stories(first: $first, after: $after) {
        edges { cursor node { ...StorySummaryFields } }
        pageInfo { hasNextPage endCursor }
        totalCount
      }
    }
  }
}
fragment PromptFields on Prompt { id content }
fragment StorySummaryFields on Story { id status text }`

// introspectionQuery asks for what GraphQL tools ask for when they load a
// schema: depth 13 and about 180 fields once the fragments are expanded.
const introspectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name ofType { kind name ofType { kind name ofType { kind name ofType {
    kind name ofType { kind name ofType { kind name ofType { kind name } } }
  } } } }
}`

func TestQueryLimits(t *testing.T) {
	srv, _ := newQueryServer(t, DefaultQueryLimits())
	const validation = "GRAPHQL_VALIDATION_FAILED"
	tests := []struct {
		name        string
		query       string
		vars        map[string]any
		op          string
		wantStatus  int
		wantCode    string // "" for no errors
		wantMessage string
	}{
		{name: "Relay-shaped query, depth 12", query: relayQuery, vars: map[string]any{"first": 10}, wantStatus: 200},
		{name: "web client query", query: webClientQuery, vars: map[string]any{"id": "p1", "first": 100}, wantStatus: 200},
		{name: "introspection query", query: introspectionQuery, wantStatus: 200},
		{name: "depth at the limit", query: nested(DefaultMaxDepth), wantStatus: 200},
		{
			name: "depth one over the limit", query: nested(DefaultMaxDepth + 1),
			wantStatus: 422, wantCode: validation,
			wantMessage: "operation is nested 16 levels deep, more than the limit of 15",
		},
		{
			name: "depth 50", query: nested(50),
			wantStatus: 422, wantCode: validation,
			wantMessage: "operation is nested 50 levels deep, more than the limit of 15",
		},
		{
			name:       "depth hidden in fragments",
			query:      "{ prompt { ...A } } fragment A on Prompt { parent { parent { parent { ...B } } } } fragment B on Prompt { parent { parent { parent { ...C } } } } fragment C on Prompt { parent { parent { parent { parent { parent { parent { parent { parent { parent { id } } } } } } } } } }",
			wantStatus: 422, wantCode: validation,
			wantMessage: "operation is nested 17 levels deep, more than the limit of 15",
		},
		{
			name:       "depth hidden in inline fragments",
			query:      "{ node(id: 1) { ... on Prompt {" + strings.Repeat(" parent { ... on Prompt {", 20) + " id" + strings.Repeat(" } }", 20) + " } } }",
			wantStatus: 422, wantCode: validation,
			wantMessage: "operation is nested 22 levels deep, more than the limit of 15",
		},
		{name: "aliases at the limit", query: aliases(DefaultMaxAliases), wantStatus: 200},
		{
			name: "aliases one over the limit", query: aliases(DefaultMaxAliases + 1),
			wantStatus: 422, wantCode: validation,
			wantMessage: "operation uses 31 aliases, more than the limit of 30",
		},
		{
			name: "1,000 aliases", query: aliases(1000),
			wantStatus: 422, wantCode: validation,
			wantMessage: "operation uses 1000 aliases, more than the limit of 30",
		},
		{
			name:       "aliases counted for each spread of their fragment",
			query:      "{ prompt { ...X parent { ...X } } } fragment X on Prompt { a: id b: id c: id d: id e: id f: id g: id h: id i: id j: id k: id l: id m: id n: id o: id p: id }",
			wantStatus: 422, wantCode: validation,
			wantMessage: "operation uses 32 aliases, more than the limit of 30",
		},
		{name: "root fields at the limit", query: rootFields(DefaultMaxRootFields), wantStatus: 200},
		{
			name: "root fields one over the limit", query: rootFields(DefaultMaxRootFields + 1),
			wantStatus: 422, wantCode: validation,
			wantMessage: "operation selects 16 root fields, more than the limit of 15",
		},
		{
			name:       "root fields from a fragment",
			query:      "query { f0 ...R ... on Query { f1 f2 f3 } } fragment R on Query { f4 f5 f6 f7 f8 f9 f10 f11 f12 f13 f14 f15 }",
			wantStatus: 422, wantCode: validation,
			wantMessage: "operation selects 16 root fields, more than the limit of 15",
		},
		{
			name:       "many root fields of one name",
			query:      "{" + strings.Repeat(" f0", 100) + " }",
			wantStatus: 422, wantCode: validation,
			wantMessage: "operation selects 100 root fields, more than the limit of 15",
		},
		{
			name:       "fragment cycle: caught by gqlgen's validation",
			query:      "{ prompt { ...A } } fragment A on Prompt { parent { ...B } } fragment B on Prompt { parent { ...A } }",
			wantStatus: 422, wantCode: validation,
			wantMessage: `Cannot spread fragment "A" within itself via "B".`,
		},
		{
			name: "fragment bomb", query: fragmentBomb(40),
			wantStatus: 422, wantCode: validation,
			wantMessage: fmt.Sprintf("operation uses %d aliases, more than the limit of 30", 1<<41-2),
		},
		{name: "fields at the limit", query: "{ prompt {" + strings.Repeat(" id", DefaultMaxFields-1) + " } }", wantStatus: 200},
		{
			name:       "fields one over the limit",
			query:      "{ prompt {" + strings.Repeat(" id", DefaultMaxFields) + " } }",
			wantStatus: 422, wantCode: validation,
			wantMessage: "operation selects 1001 fields, more than the limit of 1000",
		},
		{
			// gqlgen's complexity limit alone would walk all 2^40 fields.
			name: "wide fragment bomb", query: wideFragmentBomb(40),
			wantStatus: 422, wantCode: validation,
			wantMessage: fmt.Sprintf("operation selects %d fields, more than the limit of 1000", 1<<40+1),
		},
		{
			name:       "only the operation that runs is checked",
			query:      "query Shallow { prompt { id } } query Deep " + nested(50),
			op:         "Shallow",
			wantStatus: 200,
		},
		{name: "one full page", query: "{ stories(first: 100) { edges { node { id text status } } totalCount } }", wantStatus: 200},
		{
			name:       "a full page in each item of a full page: too complex",
			query:      "{ prompts(first: 100) { edges { node { stories(first: 100) { edges { node { id text } } } } } } }",
			wantStatus: 200, wantCode: "COMPLEXITY_LIMIT_EXCEEDED",
			wantMessage: "operation has complexity 40301, which exceeds the limit of 3000",
		},
		{
			name:       "complexity of a connection without first or last: the largest page",
			query:      "{ prompts { edges { node { stories { edges { node { id } } } } } } }",
			wantStatus: 200, wantCode: "COMPLEXITY_LIMIT_EXCEEDED",
			wantMessage: "operation has complexity 30301, which exceeds the limit of 3000",
		},
		{
			name:       "complexity from a variable",
			query:      "query Q($n: Int) { prompts(first: $n) { edges { node { stories(first: $n) { edges { node { id } } } } } } }",
			vars:       map[string]any{"n": 50},
			wantStatus: 200, wantCode: "COMPLEXITY_LIMIT_EXCEEDED",
			wantMessage: "operation has complexity 7651, which exceeds the limit of 3000",
		},
		{
			name:       "complexity with small pages",
			query:      "query Q($n: Int) { prompts(first: $n) { edges { node { stories(first: $n) { edges { node { id } } } } } } }",
			vars:       map[string]any{"n": 10},
			wantStatus: 200,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := map[string]any{"query": tt.query, "variables": tt.vars}
			if tt.op != "" {
				body["operationName"] = tt.op
			}
			status, resp := post(t, srv, body, "")
			if status != tt.wantStatus {
				t.Errorf("status = %d, want %d; errors: %+v", status, tt.wantStatus, resp.Errors)
			}
			if tt.wantCode == "" {
				if len(resp.Errors) != 0 {
					t.Fatalf("errors: %+v", resp.Errors)
				}
				return
			}
			if len(resp.Errors) != 1 {
				t.Fatalf("got %d errors, want 1: %+v", len(resp.Errors), resp.Errors)
			}
			e := resp.Errors[0]
			if e.Extensions["code"] != tt.wantCode || e.Message != tt.wantMessage {
				t.Errorf("error = %q (code %v), want %q (code %s)", e.Message, e.Extensions["code"], tt.wantMessage, tt.wantCode)
			}
		})
	}
}

func TestQueryLimitsStatusForGraphQLResponse(t *testing.T) {
	srv, _ := newQueryServer(t, DefaultQueryLimits())
	status, resp := post(t, srv, map[string]any{"query": nested(50)}, "application/graphql-response+json")
	if status != http.StatusBadRequest || len(resp.Errors) != 1 {
		t.Errorf("status %d, errors %+v; want 400 and one error", status, resp.Errors)
	}
}

func TestQueryLimitsGET(t *testing.T) {
	srv, _ := newQueryServer(t, DefaultQueryLimits())
	r := httptest.NewRequest(http.MethodGet, "/graphql?query="+url.QueryEscape(nested(50)), nil)
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "nested 50 levels deep") {
		t.Errorf("GET: %d %s; want 422 and the depth error", w.Code, w.Body)
	}
}

func TestQueryLimitsStats(t *testing.T) {
	srv, stats := newQueryServer(t, DefaultQueryLimits())
	status, resp := post(t, srv, map[string]any{"query": relayQuery, "variables": map[string]any{"first": 3}}, "")
	if status != http.StatusOK || len(resp.Errors) != 0 {
		t.Fatalf("status %d, errors %+v", status, resp.Errors)
	}
	want := &QueryStats{Depth: 12, Aliases: 0, RootFields: 1, Fields: 21}
	if diff := cmp.Diff(want, stats()); diff != "" {
		t.Errorf("GetQueryStats (-want +got):\n%s", diff)
	}
	status, _ = post(t, srv, map[string]any{"query": introspectionQuery}, "")
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	want = &QueryStats{Depth: 13, Aliases: 0, RootFields: 1, Fields: 181}
	if diff := cmp.Diff(want, stats()); diff != "" {
		t.Errorf("GetQueryStats (-want +got):\n%s", diff)
	}
	status, _ = post(t, srv, map[string]any{"query": "{ x: f0 f1 prompt { a: id b: parent { id } } }"}, "")
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	want = &QueryStats{Depth: 3, Aliases: 3, RootFields: 3, Fields: 6}
	if diff := cmp.Diff(want, stats()); diff != "" {
		t.Errorf("GetQueryStats (-want +got):\n%s", diff)
	}
}

func TestQueryLimitsZeroIsUnlimited(t *testing.T) {
	srv, _ := newQueryServer(t, QueryLimits{})
	for _, q := range []string{nested(50), aliases(1000), rootFields(20), "{ prompt {" + strings.Repeat(" id", 2000) + " } }"} {
		if status, resp := post(t, srv, map[string]any{"query": q}, ""); status != http.StatusOK || len(resp.Errors) != 0 {
			t.Errorf("status %d, errors %+v; want neither with no limits", status, resp.Errors)
		}
	}
}

func TestQueryLimitsValidate(t *testing.T) {
	for _, q := range []QueryLimits{{MaxDepth: -1}, {MaxAliases: -1}, {MaxRootFields: -1}, {MaxFields: -1}} {
		if err := q.Validate(nil); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", q)
		}
	}
	if err := DefaultQueryLimits().Validate(nil); err != nil {
		t.Errorf("Validate(defaults) = %v", err)
	}
}

// TestQueryLimitsUnvalidatedCycle runs the check on a document that skipped
// validation: a fragment cycle must end the walk, not hang it.
func TestQueryLimitsUnvalidatedCycle(t *testing.T) {
	doc, err := parser.ParseQuery(&ast.Source{Input: "{ prompt { ...A } } fragment A on Prompt { parent { ...B } } fragment B on Prompt { ...A }"})
	if err != nil {
		t.Fatal(err)
	}
	opCtx := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0]}
	gqlErr := DefaultQueryLimits().MutateOperationContext(t.Context(), opCtx)
	if gqlErr == nil || gqlErr.Message != "fragment A spreads itself" || gqlErr.Extensions["code"] != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("MutateOperationContext = %v, want the fragment cycle error", gqlErr)
	}
}

func BenchmarkQueryLimits(b *testing.B) {
	benchmarks := []struct {
		name  string
		query string
	}{
		{"web client query", webClientQuery},
		{"Relay query", relayQuery},
		{"1000 aliases", aliases(1000)},
		{"fragment bomb", fragmentBomb(40)},
		{"wide fragment bomb", wideFragmentBomb(40)},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			doc, errs := gqlparser.LoadQuery(testSchema, bm.query)
			if errs != nil {
				b.Fatal(errs)
			}
			opCtx := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0]}
			q := DefaultQueryLimits()
			ctx := context.Background()
			for b.Loop() {
				q.MutateOperationContext(ctx, opCtx)
			}
		})
	}
}

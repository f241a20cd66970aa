package limits

import (
	"context"
	"errors"
	"math"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Defaults of DefaultQueryLimits.
const (
	// DefaultMaxDepth leaves room for three nested Relay connections (each
	// takes three levels: the connection, edges and node) with the fields
	// between and below them, and for the standard introspection query
	// (13 levels).
	DefaultMaxDepth = 15
	// DefaultMaxAliases is generous for hand-written queries; storybot's web
	// client uses none.
	DefaultMaxAliases = 30
	// DefaultMaxRootFields is generous too: the web client asks for one root
	// field per operation.
	DefaultMaxRootFields = 15
	// DefaultMaxFields is several times the standard introspection query
	// (about 180 fields once its fragments are expanded); the web client's
	// largest query has about 20.
	DefaultMaxFields = 1000
)

// QueryLimits is a gqlgen handler extension that rejects operations nested
// too deeply, using too many aliases, or selecting too many root fields or
// fields in all, before anything is executed. Fragment spreads and inline
// fragments are expanded where they are used, so hiding selections in
// fragments does not help; each fragment is measured once, so fragments spread
// many times cannot make the check itself expensive. A limit of 0 is no limit.
//
// Register it before gqlgen's complexity limit: that extension walks every
// expanded selection, and a small document whose fragments each spread the
// next twice expands to 2^n fields, so without MaxFields in front of it a
// request of a few hundred bytes can keep it busy for minutes.
//
// A violation is a GraphQL error with extensions.code
// "GRAPHQL_VALIDATION_FAILED": like any invalid document, the operation is
// not run, and gqlgen's HTTP transports answer 422 (or 400 when the client
// accepts application/graphql-response+json).
type QueryLimits struct {
	// MaxDepth is the deepest nesting of fields; a root field is at depth 1.
	MaxDepth int
	// MaxAliases is the most fields with an alias, counted once for each
	// place they end up in after fragments are expanded.
	MaxAliases int
	// MaxRootFields is the most fields selected at the operation's root.
	MaxRootFields int
	// MaxFields is the most fields selected in all, at every level.
	MaxFields int
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = QueryLimits{}

// DefaultQueryLimits returns the limits storybot recommends: DefaultMaxDepth,
// DefaultMaxAliases, DefaultMaxRootFields and DefaultMaxFields.
func DefaultQueryLimits() QueryLimits {
	return QueryLimits{
		MaxDepth:      DefaultMaxDepth,
		MaxAliases:    DefaultMaxAliases,
		MaxRootFields: DefaultMaxRootFields,
		MaxFields:     DefaultMaxFields,
	}
}

const queryLimitsExtension = "QueryLimits"

// ExtensionName implements graphql.HandlerExtension.
func (QueryLimits) ExtensionName() string { return queryLimitsExtension }

// Validate implements graphql.HandlerExtension; it rejects negative limits.
func (q QueryLimits) Validate(graphql.ExecutableSchema) error {
	if q.MaxDepth < 0 || q.MaxAliases < 0 || q.MaxRootFields < 0 || q.MaxFields < 0 {
		return errors.New("limits: query limits cannot be negative")
	}
	return nil
}

// QueryStats describes the operation QueryLimits checked.
type QueryStats struct {
	// Depth is the deepest nesting of fields.
	Depth int
	// Aliases is the number of aliased fields.
	Aliases int
	// RootFields is the number of fields at the root.
	RootFields int
	// Fields is the number of fields at every level.
	Fields int
}

// GetQueryStats returns what QueryLimits measured of the current operation,
// or nil if it did not run.
func GetQueryStats(ctx context.Context) *QueryStats {
	opCtx := graphql.GetOperationContext(ctx)
	if opCtx == nil {
		return nil
	}
	s, _ := opCtx.Stats.GetExtension(queryLimitsExtension).(*QueryStats)
	return s
}

// MutateOperationContext implements graphql.OperationContextMutator. gqlgen
// calls it after parsing and validation, for queries, mutations and
// subscriptions on every transport.
func (q QueryLimits) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	op := opCtx.Operation
	if op == nil && opCtx.Doc != nil {
		op = opCtx.Doc.Operations.ForName(opCtx.OperationName)
	}
	if op == nil {
		return nil
	}
	m := measurer{
		fragments: opCtx.Doc.Fragments,
		memo:      make(map[string]shape),
		entered:   make(map[string]bool),
	}
	s := m.selectionSet(op.SelectionSet)
	if m.cycle != "" {
		// Validation rejects fragment cycles first; this guards the walk
		// should it ever be run without.
		return invalid(op, "fragment %s spreads itself", m.cycle)
	}
	opCtx.Stats.SetExtension(queryLimitsExtension, &QueryStats{
		Depth:      s.depth,
		Aliases:    s.aliases,
		RootFields: s.fields,
		Fields:     s.total,
	})
	switch {
	case q.MaxRootFields > 0 && s.fields > q.MaxRootFields:
		return invalid(op, "operation selects %d root fields, more than the limit of %d", s.fields, q.MaxRootFields)
	case q.MaxAliases > 0 && s.aliases > q.MaxAliases:
		return invalid(op, "operation uses %d aliases, more than the limit of %d", s.aliases, q.MaxAliases)
	case q.MaxDepth > 0 && s.depth > q.MaxDepth:
		return invalid(op, "operation is nested %d levels deep, more than the limit of %d", s.depth, q.MaxDepth)
	case q.MaxFields > 0 && s.total > q.MaxFields:
		return invalid(op, "operation selects %d fields, more than the limit of %d", s.total, q.MaxFields)
	}
	return nil
}

// invalid returns a validation error located at op.
func invalid(op *ast.OperationDefinition, format string, args ...any) *gqlerror.Error {
	err := gqlerror.ErrorPosf(op.Position, format, args...)
	errcode.Set(err, errcode.ValidationFailed)
	return err
}

// shape is what a selection set adds up to once fragments are expanded.
type shape struct {
	depth   int // the deepest nesting of fields below and including this level
	aliases int // aliased fields at every level
	fields  int // fields at this level
	total   int // fields at every level
}

// add merges the shape of selections made at the same level.
func (s shape) add(o shape) shape {
	return shape{
		depth:   max(s.depth, o.depth),
		aliases: addCapped(s.aliases, o.aliases),
		fields:  addCapped(s.fields, o.fields),
		total:   addCapped(s.total, o.total),
	}
}

// measurer measures an operation, remembering each fragment's shape: the
// shape of a fragment does not depend on where it is spread, so the walk
// stays linear in the size of the document even when fragments spread other
// fragments many times over.
type measurer struct {
	fragments ast.FragmentDefinitionList
	memo      map[string]shape
	entered   map[string]bool
	cycle     string
}

func (m *measurer) selectionSet(set ast.SelectionSet) shape {
	var s shape
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			child := m.selectionSet(sel.SelectionSet)
			f := shape{depth: addCapped(child.depth, 1), aliases: child.aliases, fields: 1, total: addCapped(child.total, 1)}
			if sel.Alias != "" && sel.Alias != sel.Name {
				f.aliases = addCapped(f.aliases, 1)
			}
			s = s.add(f)
		case *ast.InlineFragment:
			s = s.add(m.selectionSet(sel.SelectionSet))
		case *ast.FragmentSpread:
			s = s.add(m.fragment(sel.Name))
		}
	}
	return s
}

func (m *measurer) fragment(name string) shape {
	if s, ok := m.memo[name]; ok {
		return s
	}
	if m.entered[name] {
		m.cycle = name
		return shape{}
	}
	def := m.fragments.ForName(name)
	if def == nil {
		// Validation rejects unknown fragments; execution would skip it.
		return shape{}
	}
	m.entered[name] = true
	s := m.selectionSet(def.SelectionSet)
	m.memo[name] = s
	return s
}

// addCapped adds non-negative a and b, stopping at math.MaxInt.
func addCapped(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

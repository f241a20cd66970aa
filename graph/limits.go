package graph

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// MaxPageSize caps first and last on every connection, and the IDs one nodes
// query may ask for.
const MaxPageSize = 100

// PageLimit is a gqlgen extension that rejects, before anything runs, an
// operation asking a connection for first/last above MaxPageSize or below
// zero, or nodes for more than MaxPageSize IDs, with BAD_USER_INPUT. It
// checks the document once (fragments included, variables resolved) rather
// than each field as it runs, which would cost every field of every answer.
type PageLimit struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = PageLimit{}

// ExtensionName implements graphql.HandlerExtension.
func (PageLimit) ExtensionName() string { return "PageLimit" }

// Validate implements graphql.HandlerExtension.
func (PageLimit) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (PageLimit) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	msg := checkPages(rc.Operation.SelectionSet, rc.Variables, map[string]bool{})
	if msg == "" {
		return nil
	}
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": CodeBadUserInput}}
}

// checkPages returns what is wrong with the page sizes in set, or "".
func checkPages(set ast.SelectionSet, vars map[string]any, seen map[string]bool) string {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			for _, arg := range sel.Arguments {
				if msg := checkPageArg(arg, vars); msg != "" {
					return msg
				}
			}
			if msg := checkPages(sel.SelectionSet, vars, seen); msg != "" {
				return msg
			}
		case *ast.InlineFragment:
			if msg := checkPages(sel.SelectionSet, vars, seen); msg != "" {
				return msg
			}
		case *ast.FragmentSpread:
			if sel.Definition == nil || seen[sel.Name] {
				continue
			}
			seen[sel.Name] = true
			if msg := checkPages(sel.Definition.SelectionSet, vars, seen); msg != "" {
				return msg
			}
		}
	}
	return ""
}

func checkPageArg(arg *ast.Argument, vars map[string]any) string {
	if arg.Name != "first" && arg.Name != "last" && arg.Name != "ids" {
		return ""
	}
	v, err := arg.Value.Value(vars)
	if err != nil || v == nil {
		return "" // validation reports malformed values
	}
	if arg.Name == "ids" {
		if ids, ok := v.([]any); ok && len(ids) > MaxPageSize {
			return fmt.Sprintf("at most %d ids per request, got %d", MaxPageSize, len(ids))
		}
		return ""
	}
	var n int64
	switch v := v.(type) {
	case int64:
		n = v
	case int:
		n = int64(v)
	case float64:
		n = int64(v)
	case json.Number:
		if n, err = v.Int64(); err != nil {
			return ""
		}
	default:
		return ""
	}
	switch {
	case n < 0:
		return fmt.Sprintf("%s must not be negative, got %d", arg.Name, n)
	case n > MaxPageSize:
		return fmt.Sprintf("%s must be at most %d, got %d", arg.Name, MaxPageSize, n)
	}
	return ""
}

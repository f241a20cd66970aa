package main

import (
	"strings"
	"testing"
)

// generated is a small file shaped as gqlgen writes graph/generated.go: a
// list, an object without concurrent fields and one with.
const generated = `package graph

import (
	"context"
	"math"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
)

func (ec *executionContext) marshalList(ctx context.Context, sel ast.SelectionSet, v []*Edge) graphql.Marshaler {
	ret := graphql.MarshalSliceConcurrently(ctx, len(v), 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		return ec._Edge(ctx, sel, v[i])
	})
	return ret
}

func (ec *executionContext) _Edge(ctx context.Context, sel ast.SelectionSet, obj *Edge) graphql.Marshaler {
	out := graphql.NewFieldSet(fields)
	deferred := graphql.NewDeferredGroup(ctx)
	out.Values[0] = graphql.MarshalString("x")
	out.Dispatch(ctx)

	if n := len(deferred.Defers); n > 0 {
		atomic.AddInt32(&ec.Deferred, int32(min(n, math.MaxInt32)))
		ec.ProcessDeferredGroup(deferred)
	}

	return out
}
`

const concurrentObject = `
func (ec *executionContext) _Node(ctx context.Context, sel ast.SelectionSet, obj *Node) graphql.Marshaler {
	out := graphql.NewFieldSet(fields)
	deferred := graphql.NewDeferredGroup(ctx)
	out.ResolveConcurrently(ec.OperationContext, &deferred, 0, true, true, nil)
	out.Dispatch(ctx)

	if n := len(deferred.Defers); n > 0 {
		atomic.AddInt32(&ec.Deferred, int32(min(n, math.MaxInt32)))
		ec.ProcessDeferredGroup(deferred)
	}

	return out
}
`

func TestTrim(t *testing.T) {
	out, err := trim([]byte(generated))
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, gone := range []string{"MarshalSliceConcurrently", "NewDeferredGroup", "deferred", `"math"`} {
		if strings.Contains(got, gone) {
			t.Errorf("the trimmed file still has %s:\n%s", gone, got)
		}
	}
	if !strings.Contains(got, "marshalSequentially(ctx, len(v), func(") {
		t.Errorf("the list is not marshalled sequentially:\n%s", got)
	}

	// An object whose fields resolve concurrently keeps its group, and the
	// file its math import.
	out, err = trim([]byte(generated + concurrentObject))
	if err != nil {
		t.Fatal(err)
	}
	got = string(out)
	if n := strings.Count(got, "deferred := deferredGroup(ctx, fields)"); n != 1 || strings.Contains(got, "NewDeferredGroup") {
		t.Errorf("want the concurrent object's group made by deferredGroup, the other gone:\n%s", got)
	}
	if !strings.Contains(got, `"math"`) {
		t.Errorf("the math import went, though the concurrent object uses it")
	}
}

func TestTrimFailsOnUnknownOutput(t *testing.T) {
	if _, err := trim([]byte("package graph\n")); err == nil {
		t.Error("a file without lists to rewrite passed: a change in gqlgen's output would go unnoticed")
	}
}

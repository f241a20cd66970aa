// Command trimgen removes from gqlgen's generated code two costs that
// storybot's schema never needs, by the profiles in docs/PERFORMANCE.md.
// gqlgen has no option for either, so `make generate` runs this after
// gqlgen:
//
//		go run ./internal/trimgen graph/generated.go
//
//	 1. gqlgen starts a goroutine for every element of every list of
//	    objects, so that element resolvers may run in parallel. storybot's
//	    list elements resolve from memory (Ent loads edges eagerly), so those
//	    goroutines only cost CPU and stack growth: most of a list query's
//	    time. Each call of graphql.MarshalSliceConcurrently becomes one of the
//	    package's marshalSequentially (graph/marshal.go).
//	 2. Every object marshalled (each edge and node of a list, each event of a
//	    subscription) starts a group for @defer fragments, which walks the
//	    context for the field's path and allocates a map and a field set.
//	    Only objects with fields that resolve concurrently ever add to it;
//	    the others' groups are dropped.
//
// It fails when it finds no list to rewrite, so that a change in gqlgen's
// output cannot go unnoticed.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"regexp"
)

var (
	// concurrentList matches the generated call up to its element function.
	concurrentList = regexp.MustCompile(`graphql\.MarshalSliceConcurrently\(ctx, len\(v\), \d+, (?:true|false), `)

	// A deferred group as generated for an object: made at the start,
	// handed on at the end if not empty.
	newGroup     = regexp.MustCompile(`\n\tdeferred := graphql\.NewDeferredGroup\(ctx\)\n`)
	processGroup = regexp.MustCompile(`\n\tif n := len\(deferred\.Defers\); n > 0 \{\n\t\tatomic\.AddInt32\(&ec\.Deferred, int32\(min\(n, math\.MaxInt32\)\)\)\n\t\tec\.ProcessDeferredGroup\(deferred\)\n\t\}\n`)
	anyDeferred  = regexp.MustCompile(`\bdeferred\b`)

	mathImport = regexp.MustCompile(`\n\t"math"\n`)
	mathUse    = regexp.MustCompile(`\bmath\.`)
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: trimgen FILE")
		os.Exit(2)
	}
	if err := rewrite(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "trimgen:", err)
		os.Exit(1)
	}
}

func rewrite(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := trim(src)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, out, 0o644)
}

// trim returns src, gqlgen's generated.go, with both rewrites done.
func trim(src []byte) ([]byte, error) {
	if !concurrentList.Match(src) {
		return nil, fmt.Errorf("no call of graphql.MarshalSliceConcurrently in the expected form: check gqlgen's output")
	}
	out := concurrentList.ReplaceAll(src, []byte("marshalSequentially(ctx, len(v), "))
	if bytes.Contains(out, []byte("MarshalSliceConcurrently")) {
		return nil, fmt.Errorf("a call of graphql.MarshalSliceConcurrently in an unexpected form")
	}

	// Objects with fields that resolve concurrently (a resolver's edge,
	// say) pass their group to them, which add to it only for a field
	// under @defer: they get one only when a field needs it. The others'
	// groups are dropped.
	funcs := bytes.SplitAfter(out, []byte("\n}\n"))
	for i, fn := range funcs {
		trimmed := processGroup.ReplaceAll(newGroup.ReplaceAll(fn, []byte("\n")), []byte("\n"))
		switch {
		case len(trimmed) == len(fn):
		case !anyDeferred.Match(trimmed):
			funcs[i] = trimmed
		default:
			funcs[i] = newGroup.ReplaceAll(fn, []byte("\n\tdeferred := deferredGroup(ctx, fields)\n"))
		}
	}
	out = bytes.Join(funcs, nil)
	if !mathUse.Match(out) {
		out = mathImport.ReplaceAll(out, []byte("\n"))
	}
	return format.Source(out)
}

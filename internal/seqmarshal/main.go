// Command seqmarshal makes gqlgen's generated code marshal lists one element
// after the other instead of one goroutine per element. gqlgen starts a
// goroutine for every element of every list of objects, so that element
// resolvers may run in parallel; storybot's list elements resolve from
// memory (Ent loads edges eagerly), so those goroutines only cost CPU and
// stack growth — most of a list query's time, by the profiles in
// docs/PERFORMANCE.md. gqlgen has no option for it, so `make generate` runs
// this after gqlgen:
//
//	go run ./internal/seqmarshal graph/generated.go
//
// It replaces each call of graphql.MarshalSliceConcurrently with the
// package's marshalSequentially (graph/marshal.go), and fails if it finds
// none, so that a change in gqlgen's output cannot go unnoticed.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"regexp"
)

// call matches the generated call up to its element function.
var call = regexp.MustCompile(`graphql\.MarshalSliceConcurrently\(ctx, len\(v\), \d+, (?:true|false), `)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: seqmarshal FILE")
		os.Exit(2)
	}
	if err := rewrite(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "seqmarshal:", err)
		os.Exit(1)
	}
}

func rewrite(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	n := len(call.FindAllIndex(src, -1))
	if n == 0 {
		return fmt.Errorf("%s has no call of graphql.MarshalSliceConcurrently in the expected form: check gqlgen's output", path)
	}
	out := call.ReplaceAll(src, []byte("marshalSequentially(ctx, len(v), "))
	if bytes.Contains(out, []byte("MarshalSliceConcurrently")) {
		return fmt.Errorf("%s calls graphql.MarshalSliceConcurrently in an unexpected form", path)
	}
	if out, err = format.Source(out); err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}

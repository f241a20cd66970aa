package main

// Code generation, in order: Ent first (the client and graph/ent.graphqls),
// then gqlgen (graph/generated.go and the resolver stubs), then trimgen,
// which trims generated.go of work the schema never needs (lists marshalled
// with a goroutine per element, groups for @defer).
// Run `make generate`.

//go:generate go run -mod=mod ./ent/entc.go
//go:generate go run -mod=mod github.com/99designs/gqlgen generate --config gqlgen.yml
//go:generate go run ./cmd/trimgen graph/generated.go

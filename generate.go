package main

// Code generation, in order: Ent first (the client and graph/ent.graphqls),
// then gqlgen (graph/generated.go and the resolver stubs), then seqmarshal,
// which makes generated.go marshal lists without a goroutine per element.
// Run `make generate`.

//go:generate go run -mod=mod ./ent/entc.go
//go:generate go run -mod=mod github.com/99designs/gqlgen generate --config gqlgen.yml
//go:generate go run ./internal/seqmarshal graph/generated.go

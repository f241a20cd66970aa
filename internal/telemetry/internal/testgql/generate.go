// Package testgql is a small gqlgen schema for the telemetry package's tests:
// it has fields that run resolvers, plain struct fields, errors with codes and
// a subscription.
package testgql

//go:generate go run -mod=mod github.com/99designs/gqlgen generate --config gqlgen.yml

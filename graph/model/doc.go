// Package model holds the GraphQL types that Ent does not provide, generated
// by gqlgen from the hand-written schema files.
package model

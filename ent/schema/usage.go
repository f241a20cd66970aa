package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/storybot/storybot/ent/privacy"
	"github.com/storybot/storybot/internal/pulid"
)

// UsageDay is one user's model usage on one day (UTC): the tokens their
// finished stories used, and the tokens reserved by those still running.
// Quotas are checked against it under a lock of the user's row, so they
// hold across replicas.
type UsageDay struct {
	ent.Schema
}

// Fields of the UsageDay.
func (UsageDay) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Immutable(),
		field.String("day").MaxLen(10).Immutable().Comment("YYYY-MM-DD, UTC."),
		field.Int("tokens").Default(0).NonNegative().Comment("Prompt and completion tokens used."),
		field.Int("reserved").Default(0).NonNegative().Comment("Tokens reserved by running stories."),
	}
}

// Edges of the UsageDay.
func (UsageDay) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("usage").Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes of the UsageDay.
func (UsageDay) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "day").Unique()}
}

// Policy of the UsageDay: only storybot itself reads or writes usage.
func (UsageDay) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{allowSystem, denyAll},
		Mutation: privacy.MutationPolicy{allowSystem, denyAll},
	}
}

// Annotations of the UsageDay.
func (UsageDay) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

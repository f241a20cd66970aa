package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/storybot/storybot/ent/privacy"
	"github.com/storybot/storybot/internal/pulid"
)

// APIToken is a personal token for scripts and other services, sent as
// "Authorization: Bearer". It is shown once; only its SHA-256 hash is stored.
type APIToken struct {
	ent.Schema
}

// Mixin of the APIToken.
func (APIToken) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: pulid.APITokenPrefix}}
}

// Fields of the APIToken.
func (APIToken) Fields() []ent.Field {
	hidden := entgql.Skip(entgql.SkipAll)
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Immutable().Annotations(hidden),
		field.String("name").NotEmpty().MaxLen(100),
		field.Bytes("token_hash").Unique().Immutable().Sensitive().MaxLen(32).Annotations(hidden),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("last_used_at").Optional().Nillable(),
		field.Time("expires_at").Optional().Nillable().Immutable(),
		field.Time("revoked_at").Optional().Nillable(),
	}
}

// Edges of the APIToken.
func (APIToken) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("api_tokens").Field("user_id").Unique().Required().Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Indexes of the APIToken.
func (APIToken) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "created_at")}
}

// Policy of the APIToken: a user sees and revokes only their own tokens.
func (APIToken) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{allowSystem, ownRows("user_id")},
		Mutation: privacy.MutationPolicy{allowSystem, denyCreate, ownRows("user_id")},
	}
}

// Annotations of the APIToken.
func (APIToken) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.Type("ApiToken"),
		entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput),
	}
}

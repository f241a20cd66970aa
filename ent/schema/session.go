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

// Session is a signed-in browser: the session cookie holds a random token,
// and only the token's SHA-256 hash is stored.
type Session struct {
	ent.Schema
}

// Mixin of the Session.
func (Session) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: pulid.SessionPrefix}}
}

// Fields of the Session.
func (Session) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Immutable(),
		field.Bytes("token_hash").Unique().Immutable().Sensitive().MaxLen(32),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("last_seen_at").Default(time.Now).
			Comment("Renewed as the session is used; the session ends when it is older than the idle time-out."),
		field.Time("expires_at").Immutable().
			Comment("The absolute end of the session, however much it is used."),
		field.Time("revoked_at").Optional().Nillable().
			Comment("Set by sign-out: the session no longer authenticates."),
	}
}

// Edges of the Session.
func (Session) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("sessions").Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes of the Session.
func (Session) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id"), index.Fields("expires_at")}
}

// Policy of the Session: only storybot itself reads or writes sessions.
func (Session) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{allowSystem, denyAll},
		Mutation: privacy.MutationPolicy{allowSystem, denyAll},
	}
}

// Annotations of the Session.
func (Session) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/storybot/storybot/ent/privacy"
	"github.com/storybot/storybot/internal/pulid"
)

// User is a person (or a service, through its API tokens) with an account.
type User struct {
	ent.Schema
}

// Mixin of the User.
func (User) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: pulid.UserPrefix}, timeMixin{}}
}

// Fields of the User.
func (User) Fields() []ent.Field {
	hidden := entgql.Skip(entgql.SkipAll)
	return []ent.Field{
		field.String("email").
			MaxLen(254).
			Unique().
			Comment("Normalised: trimmed and lower-cased.").
			Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput)),
		field.String("name").
			Optional().
			Nillable().
			MaxLen(800). // bytes: 200 characters of up to four bytes each
			Comment("At most 200 characters.").
			Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput)),
		field.String("password_hash").
			Optional().
			Nillable().
			Sensitive().
			Annotations(hidden).
			Comment("argon2id, in the PHC string format; null for accounts that sign in only with OpenID Connect."),
		field.Enum("role").
			NamedValues("User", "USER", "Admin", "ADMIN").
			Default("USER").
			Annotations(entgql.Type("Role"), entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput)),
		field.String("oidc_issuer").
			Optional().
			Nillable().
			Annotations(hidden),
		field.String("oidc_subject").
			Optional().
			Nillable().
			Annotations(hidden),
		field.Int("daily_token_limit").
			Optional().
			Nillable().
			NonNegative().
			Annotations(hidden).
			Comment("This user's daily model-token limit; null for the server's default."),
	}
}

// Edges of the User.
func (User) Edges() []ent.Edge {
	hidden := entgql.Skip(entgql.SkipAll)
	return []ent.Edge{
		edge.To("prompts", Prompt.Type).Annotations(hidden, entsql.OnDelete(entsql.Cascade)),
		edge.To("stories", Story.Type).Annotations(hidden, entsql.OnDelete(entsql.Cascade)),
		edge.To("sessions", Session.Type).Annotations(hidden, entsql.OnDelete(entsql.Cascade)),
		edge.To("api_tokens", APIToken.Type).Annotations(hidden, entsql.OnDelete(entsql.Cascade)),
		edge.To("usage", UsageDay.Type).Annotations(hidden, entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of the User.
func (User) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("oidc_issuer", "oidc_subject").Unique(),
	}
}

// Policy of the User: a user sees and changes only their own account.
func (User) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{allowSystem, ownRows("id")},
		Mutation: privacy.MutationPolicy{allowSystem, denyCreate, ownRows("id")},
	}
}

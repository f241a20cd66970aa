package schema

import (
	"context"
	"fmt"
	"strings"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/storybot/storybot/ent/privacy"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/storyopt"
	"github.com/storybot/storybot/internal/textcheck"
)

// Prompt is what a person asks a story about.
type Prompt struct {
	ent.Schema
}

// MaxPromptLength is the longest prompt content, in characters.
const MaxPromptLength = 4000

// Mixin of the Prompt.
func (Prompt) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: pulid.PromptPrefix}, timeMixin{}}
}

// Fields of the Prompt.
func (Prompt) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").
			GoType(pulid.ID("")).
			Optional().
			Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)).
			Comment("The owner; null only for prompts written before accounts existed, until the first admin signs up."),
		field.Text("content").
			Validate(func(s string) error { return textcheck.Check(s, 1, MaxPromptLength) }).
			Annotations(entgql.OrderField("CONTENT")),
		storyOptions("Defaults for this prompt's stories."),
	}
}

// Edges of the Prompt.
func (Prompt) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("owner", User.Type).
			Ref("prompts").
			Field("user_id").
			Unique().
			Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)),
		edge.To("stories", Story.Type).
			Annotations(
				entgql.RelayConnection(),
				entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput),
				entsql.OnDelete(entsql.Cascade),
			),
	}
}

// Indexes of the Prompt.
func (Prompt) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id", "created_at", "id"),
		index.Fields("user_id", "updated_at", "id"),
	}
}

// Hooks of the Prompt.
func (Prompt) Hooks() []ent.Hook {
	return []ent.Hook{trimContent, normalizeOptions}
}

// Policy of the Prompt: a user reads and changes only their own prompts;
// a share token lets an operation read the shared story's prompt.
func (Prompt) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{allowSystem, ownOrGranted(grantedPrompts)},
		Mutation: privacy.MutationPolicy{allowSystem, createOwn, ownRows("user_id")},
	}
}

// Annotations of the Prompt.
func (Prompt) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField(),
		entgql.RelayConnection(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}

// trimContent trims surrounding white space from a prompt's content before
// the field validator sees it, so "  " is rejected as empty.
func trimContent(next ent.Mutator) ent.Mutator {
	return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
		if v, ok := m.Field("content"); ok {
			s, isString := v.(string)
			if !isString {
				return nil, fmt.Errorf("prompt content has type %T", v)
			}
			if err := m.SetField("content", strings.TrimSpace(s)); err != nil {
				return nil, err
			}
		}
		return next.Mutate(ctx, m)
	})
}

// storyOptions is the options field of prompts and stories. The GraphQL
// inputs that change it are hand-written (graph/prompt.graphqls): a patch,
// which Ent's generated inputs cannot express.
func storyOptions(comment string) ent.Field {
	return field.JSON("options", storyopt.Options{}).
		Default(storyopt.Options{}).
		Annotations(
			// Rows from before options existed have none.
			entsql.Default("{}"),
			entgql.Type("StoryOptions"),
			entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput, entgql.SkipOrderField),
		).
		Comment(comment)
}

// normalizeOptions checks the story options a mutation sets and stores them
// in their canonical form (storyopt.Options.Normalized); bad ones are an
// error wrapping storyopt.ErrInvalid.
func normalizeOptions(next ent.Mutator) ent.Mutator {
	return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
		if v, ok := m.Field("options"); ok {
			o, isOptions := v.(storyopt.Options)
			if !isOptions {
				return nil, fmt.Errorf("story options have type %T", v)
			}
			o, err := o.Normalized()
			if err != nil {
				return nil, err
			}
			if err := m.SetField("options", o); err != nil {
				return nil, err
			}
		}
		return next.Mutate(ctx, m)
	})
}

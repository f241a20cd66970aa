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

	"github.com/storybot/storybot/internal/pulid"
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
		field.Text("content").
			Validate(func(s string) error { return textcheck.Check(s, 1, MaxPromptLength) }).
			Annotations(entgql.OrderField("CONTENT")),
	}
}

// Edges of the Prompt.
func (Prompt) Edges() []ent.Edge {
	return []ent.Edge{
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
		index.Fields("created_at", "id"),
		index.Fields("updated_at", "id"),
	}
}

// Hooks of the Prompt.
func (Prompt) Hooks() []ent.Hook {
	return []ent.Hook{trimContent}
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

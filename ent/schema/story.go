package schema

import (
	"context"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/storybot/storybot/ent/privacy"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/textcheck"
)

// Story is one generation of text from a Prompt.
type Story struct {
	ent.Schema
}

// MaxTitleLength is the longest story title, in characters.
const MaxTitleLength = 200

// Mixin of the Story.
func (Story) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: pulid.StoryPrefix}, timeMixin{}}
}

// Fields of the Story.
func (Story) Fields() []ent.Field {
	hidden := entgql.Skip(entgql.SkipAll)
	return []ent.Field{
		field.String("user_id").
			GoType(pulid.ID("")).
			Optional().
			Immutable().
			Annotations(hidden).
			Comment("The owner, the prompt's; null only for stories written before accounts existed, until the first admin signs up."),
		field.String("prompt_id").
			GoType(pulid.ID("")).
			Immutable().
			Annotations(hidden),
		field.Enum("status").
			NamedValues(
				"Pending", "PENDING",
				"Generating", "GENERATING",
				"Completed", "COMPLETED",
				"Failed", "FAILED",
				"Cancelled", "CANCELLED",
			).
			Default("PENDING").
			Annotations(entgql.OrderField("STATUS"), entgql.Type("StoryStatus")),
		field.Text("text").
			Default("").
			// Story.text is declared in graph/story.graphqls: its resolver
			// needs text_length too, which field collection then loads.
			Annotations(entgql.Skip(entgql.SkipType)).
			Comment("The story's text: while the story runs, the text from before its run; its pieces follow."),
		field.Int("text_length").
			Default(0).
			NonNegative().
			Annotations(hidden).
			Comment("Bytes of text stored, where the next piece starts. While a story runs, its text column holds the text from before its run and its pieces the rest; the end folds them in."),
		storyOptions("The options the story was written with: its prompt's, with those of its request over them."),
		field.String("title").
			Optional().
			Nillable().
			Validate(func(s string) error { return textcheck.Check(s, 1, MaxTitleLength) }).
			Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipOrderField)).
			Comment("A short title: the model's or derived from the text once the story ends, or its owner's."),
		field.Int("token_count").
			Default(0).
			NonNegative().
			Annotations(entgql.OrderField("TOKEN_COUNT")),
		field.String("model").
			Default(""),
		field.Text("error").
			Optional().
			Nillable(),
		field.Int("max_tokens").
			Positive().
			Comment("The most tokens the generator may produce."),
		field.Float("temperature").
			Optional().
			Nillable().
			Comment("Sampling temperature, or the model's default when unset."),
		field.Int64("seed").
			Default(0).
			Annotations(hidden).
			Comment("Seed for deterministic generators."),
		field.String("trace_id").
			Default("").
			Comment("Trace ID of the request that started the story."),
		field.String("lease_owner").
			Optional().
			Nillable().
			Annotations(hidden).
			Comment("The replica generating the story, while it is PENDING or GENERATING."),
		field.Time("lease_expires_at").
			Optional().
			Nillable().
			Annotations(hidden).
			Comment("When the owner's lease runs out unless renewed; the sweeper fails the story after it."),
		field.String("share_token").
			Optional().
			Nillable().
			Unique().
			Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput, entgql.SkipOrderField)).
			Comment("Set while the story is shared: anyone holding it may read the story and follow its stream."),
		field.Int("prompt_tokens").
			Default(0).
			NonNegative().
			Comment("Model tokens the prompt used: the model server's count when it sends one, else storybot's."),
		field.Int("completion_tokens").
			Default(0).
			NonNegative().
			Comment("Model tokens the story used: the model server's count when it sends one, else storybot's."),
		field.String("usage_day").
			Optional().
			Nillable().
			Annotations(hidden).
			Comment("The day (UTC) whose usage holds this running story's reservation."),
		field.Int("reserved_tokens").
			Default(0).
			NonNegative().
			Annotations(hidden).
			Comment("Tokens reserved for this story while it runs, given back as it ends."),
		field.Int("takeovers").
			Default(0).
			NonNegative().
			Annotations(entgql.Skip(entgql.SkipAll)).
			Comment("How often a replica took the story over from one that died, to go on writing it; bounded."),
		field.Time("started_at").
			Optional().
			Nillable(),
		field.Time("finished_at").
			Optional().
			Nillable(),
	}
}

// Edges of the Story.
func (Story) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("owner", User.Type).
			Ref("stories").
			Field("user_id").
			Unique().
			Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)),
		edge.To("pieces", StoryPiece.Type).
			Annotations(entgql.Skip(entgql.SkipAll), entsql.OnDelete(entsql.Cascade)),
		edge.From("prompt", Prompt.Type).
			Ref("stories").
			Field("prompt_id").
			Unique().
			Required().
			Immutable(),
	}
}

// Hooks of the Story: options normalized; a story created with text (a
// test's, say) starts with all of it stored, so its pieces, if any, go
// after it.
func (Story) Hooks() []ent.Hook {
	return []ent.Hook{normalizeOptions, func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if !m.Op().Is(ent.OpCreate) {
				return next.Mutate(ctx, m)
			}
			// The default of text_length is set by now: raise it to the text.
			length, _ := m.Field("text_length")
			if text, ok := m.Field("text"); ok {
				if n, _ := length.(int); n < len(text.(string)) {
					if err := m.SetField("text_length", len(text.(string))); err != nil {
						return nil, err
					}
				}
			}
			return next.Mutate(ctx, m)
		})
	}}
}

// Indexes of the Story.
func (Story) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id", "created_at", "id"),
		index.Fields("user_id", "status"),
		index.Fields("prompt_id", "created_at", "id"),
		index.Fields("status", "lease_expires_at"),
	}
}

// Policy of the Story: a user reads and changes only their own stories; a
// share token lets an operation read that one story.
func (Story) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{allowSystem, ownOrGranted(grantedStories)},
		Mutation: privacy.MutationPolicy{allowSystem, createOwn, ownRows("user_id")},
	}
}

// Annotations of the Story.
func (Story) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField(),
		entgql.RelayConnection(),
	}
}

package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/storybot/storybot/ent/privacy"
	"github.com/storybot/storybot/internal/pulid"
)

// StoryPiece is a piece of a running story's text, as one flush appended
// it: the story's text is its stored text followed by its pieces in order
// of start. Pieces are inserted and never changed; when the story ends they
// are folded into its text and deleted, in the transaction that stores the
// end.
type StoryPiece struct {
	ent.Schema
}

// Fields of the StoryPiece.
func (StoryPiece) Fields() []ent.Field {
	return []ent.Field{
		field.String("story_id").GoType(pulid.ID("")).Immutable(),
		field.Int("start").NonNegative().Immutable().
			Comment("The byte offset of the piece in the story's text."),
		field.Text("text").Immutable(),
		field.Int("token_count").NonNegative().Immutable().
			Comment("The story's token count up to the end of the piece."),
	}
}

// Edges of the StoryPiece.
func (StoryPiece) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("story", Story.Type).Ref("pieces").Field("story_id").Unique().Required().Immutable(),
	}
}

// Indexes of the StoryPiece: a story's pieces in order; one per offset, so
// an append can never be stored twice.
func (StoryPiece) Indexes() []ent.Index {
	return []ent.Index{index.Fields("story_id", "start").Unique()}
}

// Policy of the StoryPiece: only storybot itself reads or writes pieces;
// users read a story's text through the story.
func (StoryPiece) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{allowSystem, denyAll},
		Mutation: privacy.MutationPolicy{allowSystem, denyAll},
	}
}

// Annotations of the StoryPiece.
func (StoryPiece) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll), entsql.Table("story_pieces")}
}

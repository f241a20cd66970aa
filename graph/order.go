package graph

import (
	"entgo.io/contrib/entgql"

	"github.com/storybot/storybot/ent"
)

// Lists are newest first unless the client asks for another order.

func orNewestPrompts(o *ent.PromptOrder) *ent.PromptOrder {
	if o != nil {
		return o
	}
	return &ent.PromptOrder{Direction: entgql.OrderDirectionDesc, Field: ent.PromptOrderFieldCreatedAt}
}

func orNewestStories(o *ent.StoryOrder) *ent.StoryOrder {
	if o != nil {
		return o
	}
	return &ent.StoryOrder{Direction: entgql.OrderDirectionDesc, Field: ent.StoryOrderFieldCreatedAt}
}

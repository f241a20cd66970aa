package graph

import (
	"context"
	"fmt"

	"github.com/storybot/storybot/ent/apitoken"
	"github.com/storybot/storybot/ent/prompt"
	"github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/ent/user"
	"github.com/storybot/storybot/internal/pulid"
)

// nodeType tells Ent's Noder which table an ID belongs to, from its prefix.
func nodeType(_ context.Context, id pulid.ID) (string, error) {
	switch id.Prefix() {
	case pulid.PromptPrefix:
		return prompt.Table, nil
	case pulid.StoryPrefix:
		return story.Table, nil
	case pulid.UserPrefix:
		return user.Table, nil
	case pulid.APITokenPrefix:
		return apitoken.Table, nil
	}
	return "", fmt.Errorf("%w: %q is not the ID of any type", pulid.ErrInvalid, string(id))
}

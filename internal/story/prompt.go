package story

import (
	"context"
	"fmt"

	"github.com/storybot/storybot/ent"
	"github.com/storybot/storybot/ent/prompt"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/storyopt"
)

// CreatePromptInput is GraphQL's CreatePromptInput: Ent's, with the
// prompt's story options.
type CreatePromptInput struct {
	ent.CreatePromptInput
	Options *storyopt.Input `json:"options,omitempty"`
}

// UpdatePromptInput is GraphQL's UpdatePromptInput: Ent's, with changes to
// the prompt's story options.
type UpdatePromptInput struct {
	ent.UpdatePromptInput
	Options *storyopt.Input `json:"options,omitempty"`
}

// maxUpdateAttempts bounds how often UpdatePrompt reads a prompt again
// that changed while it was being updated.
const maxUpdateAttempts = 5

// UpdatePrompt changes one of the caller's prompts: its content when given,
// and its options as in.Options says (see storyopt.Input). Bad options are
// an error wrapping storyopt.ErrInvalid, and change nothing.
func (s *Service) UpdatePrompt(ctx context.Context, id pulid.ID, in UpdatePromptInput) (*ent.Prompt, error) {
	if id.Prefix() != pulid.PromptPrefix {
		return nil, fmt.Errorf("prompt %w", ErrNotFound)
	}
	for attempt := 0; ; attempt++ {
		p, err := s.client.Prompt.Get(ctx, id)
		if ent.IsNotFound(err) {
			return nil, fmt.Errorf("prompt %w", ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
		opts, err := p.Options.With(in.Options)
		if err != nil {
			return nil, err
		}
		// Only if nobody changed the prompt since it was read, so that
		// two patches of its options both count.
		p, err = p.Update().Where(prompt.UpdatedAt(p.UpdatedAt)).SetInput(in.UpdatePromptInput).SetOptions(opts).Save(ctx)
		if !ent.IsNotFound(err) {
			return p, err
		}
		if attempt == maxUpdateAttempts {
			return nil, ErrBusy
		}
	}
}

package story

import (
	"context"
	"crypto/subtle"
	"fmt"

	"github.com/storybot/storybot/ent"
	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/internal/auth"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/viewer"
)

// Share links: a shared story has an unguessable token, and anyone holding
// it may read that story (and its prompt's content) and follow its stream,
// read-only. The token is kept as it is, not hashed, because its owner may
// copy the link again at any time; it grants nothing but reading one story.

// Share gives one of the caller's stories a share token, or returns it as
// it is when it has one.
func (s *Service) Share(ctx context.Context, id pulid.ID) (*ent.Story, error) {
	st, err := s.get(ctx, id)
	if err != nil || st.ShareToken != nil {
		return st, err
	}
	// Scoped to the caller by the privacy policy; the condition keeps a
	// token set meanwhile.
	err = s.client.Story.Update().
		Where(entstory.ID(id), entstory.ShareTokenIsNil()).
		SetShareToken(auth.NewShareToken()).
		Exec(ctx)
	if err != nil {
		return nil, err
	}
	return s.get(ctx, id)
}

// Unshare takes a story's share token away: the link stops working, and
// streams opened with it end (within the credentials watch's interval).
func (s *Service) Unshare(ctx context.Context, id pulid.ID) (*ent.Story, error) {
	if _, err := s.get(ctx, id); err != nil {
		return nil, err
	}
	st, err := s.client.Story.UpdateOneID(id).ClearShareToken().Save(ctx)
	if ent.IsNotFound(err) {
		return nil, fmt.Errorf("story %w", ErrNotFound)
	}
	return st, err
}

// Shared returns the story that token shares, or nil, and lets the rest of
// ctx's operation read it and its prompt (viewer.Grant).
func (s *Service) Shared(ctx context.Context, token string) (*ent.Story, error) {
	if token == "" || len(token) > 100 {
		return nil, nil
	}
	st, err := s.client.Story.Query().Where(entstory.ShareToken(token)).Only(viewer.System(ctx))
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if st.ShareToken == nil || subtle.ConstantTimeCompare([]byte(*st.ShareToken), []byte(token)) != 1 {
		return nil, nil
	}
	viewer.Grant(ctx, st.ID, st.PromptID)
	return st, nil
}

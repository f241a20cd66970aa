package story

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/storybot/storybot/ent"
	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/ent/usageday"
	"github.com/storybot/storybot/ent/user"
	"github.com/storybot/storybot/internal/llm"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/telemetry"
	"github.com/storybot/storybot/internal/viewer"
)

// Titles: a story that ends with some text and no title gets one, in the
// background, so that its final event is not delayed. A generator that is
// an llm.Titler is asked (a model server in a small request of its own,
// whose tokens count against its owner's daily limit as a story's do;
// with too few tokens left, or when the request fails, the title is
// derived from the text instead); any other gets llm.TitleFromText. A
// title its owner set meanwhile is kept.

// titleTimeout bounds the request for a title.
const titleTimeout = time.Minute

// titleReserve is the least of its owner's daily tokens left for a story's
// title to be asked of the model.
const titleReserve = 2000

// entitle gives the story of r, which just ended with text, a title in the
// background. The caller is the run, which Shutdown waits for: so
// s.titles.Add happens before Shutdown waits for titles.
func (s *Service) entitle(r *run, text string) {
	if r.story.Title != nil || strings.TrimSpace(text) == "" {
		return
	}
	req := r.request()
	uid := r.story.UserID
	s.titles.Add(1)
	go func() {
		defer s.titles.Done()
		ctx, cancel := context.WithTimeout(s.titleCtx, titleTimeout)
		defer cancel()
		title, used := s.askTitle(ctx, uid, req, text)
		if err := s.storeTitle(ctx, r.story.ID, uid, title, used); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "storing a story's title failed", slog.String("storybot.story.id", string(r.story.ID)), telemetry.Error(err))
		}
	}()
}

// askTitle returns a title for text, written for req, and the tokens
// asking for it used.
func (s *Service) askTitle(ctx context.Context, uid pulid.ID, req llm.Request, text string) (string, int) {
	t, ok := s.gen.(llm.Titler)
	if !ok {
		return llm.TitleFromText(text), 0
	}
	if left, err := s.tokensLeft(ctx, uid); err != nil || left < titleReserve {
		return llm.TitleFromText(text), 0
	}
	title, res, err := t.Title(ctx, req, text)
	used := res.PromptTokens + res.CompletionTokens
	if err != nil {
		if ctx.Err() == nil {
			s.log.WarnContext(ctx, "asking for a story's title failed; deriving it from the text", telemetry.Error(err))
		}
		return llm.TitleFromText(text), used
	}
	return title, used
}

// tokensLeft is what uid may still use today; a large number without a
// limit.
func (s *Service) tokensLeft(ctx context.Context, uid pulid.ID) (int, error) {
	if uid == "" {
		return titleReserve, nil
	}
	u, err := s.client.User.Query().Where(user.ID(uid)).Only(ctx)
	if err != nil {
		return 0, err
	}
	limit := s.dailyLimit(u)
	if limit == 0 {
		return 1 << 30, nil
	}
	used, reserved, err := usageOn(ctx, s.client, uid, day(time.Now()))
	return limit - used - reserved, err
}

// storeTitle sets a story's title unless it has one, and counts the tokens
// the title used in its owner's usage of today.
func (s *Service) storeTitle(ctx context.Context, id, uid pulid.ID, title string, used int) error {
	ctx = viewer.System(ctx)
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if title != "" {
		if err := tx.Story.Update().Where(entstory.ID(id), entstory.TitleIsNil()).SetTitle(title).Exec(ctx); err != nil {
			return err
		}
	}
	if used > 0 && uid != "" {
		err := tx.UsageDay.Create().SetUserID(uid).SetDay(day(time.Now())).SetTokens(used).
			OnConflictColumns(usageday.FieldUserID, usageday.FieldDay).
			AddTokens(used).
			Exec(ctx)
		if err != nil {
			return err
		}
	}
	return tx.Commit()
}

// SetTitle changes the title of one of the caller's stories; nil or blank
// removes it (the story then keeps none: titles are given only as a story
// ends).
func (s *Service) SetTitle(ctx context.Context, id pulid.ID, title *string) (*ent.Story, error) {
	if id.Prefix() != pulid.StoryPrefix {
		return nil, fmt.Errorf("story %w", ErrNotFound)
	}
	upd := s.client.Story.UpdateOneID(id)
	if title == nil || strings.TrimSpace(*title) == "" {
		upd.ClearTitle()
	} else {
		upd.SetTitle(strings.TrimSpace(*title))
	}
	st, err := upd.Save(ctx)
	if ent.IsNotFound(err) {
		return nil, fmt.Errorf("story %w", ErrNotFound)
	}
	return st, err
}

package story

import (
	"context"
	"log/slog"
	"strings"
	"time"

	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/internal/broker"
	"github.com/storybot/storybot/internal/viewer"
)

// interruptedMsg is the error of a story whose generating replica stopped
// renewing its lease.
const interruptedMsg = "interrupted: the server generating it stopped"

// sweep ends the stories whose lease expired: their replica died or lost the
// store for longer than a lease. A story that was being cancelled ends
// CANCELLED, any other FAILED; the text stored so far is kept, and the end is
// published to every replica's subscribers. Replicas sweep concurrently; the
// lease condition lets exactly one win each story.
func (s *Service) sweep(ctx context.Context) error {
	ctx = viewer.System(ctx) // every user's stories
	now := time.Now().UTC()
	expired, err := s.client.Story.Query().
		Where(
			entstory.StatusIn(entstory.StatusPending, entstory.StatusGenerating, entstory.StatusCancelled),
			entstory.LeaseExpiresAtLT(now),
		).
		Limit(100).
		All(ctx)
	if err != nil {
		return err
	}
	for _, st := range expired {
		s.mu.Lock()
		_, mine := s.runs[st.ID]
		s.mu.Unlock()
		if mine {
			continue // still running here: its lease lapsed while the store was away
		}
		status, errMsg := entstory.StatusFailed, ptr(interruptedMsg)
		if st.Status == entstory.StatusCancelled {
			status, errMsg = entstory.StatusCancelled, nil
		}
		upd := s.client.Story.Update().
			Where(entstory.ID(st.ID), entstory.LeaseOwnerEQ(*st.LeaseOwner), entstory.LeaseExpiresAtLT(now)).
			SetStatus(status).
			SetNillableError(errMsg).
			SetFinishedAt(now).
			SetUpdatedAt(now).
			ClearLeaseOwner().
			ClearLeaseExpiresAt()
		n, err := upd.Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			continue // renewed, or another replica swept it
		}
		if err := s.settleUsage(ctx, st, st.PromptTokens, st.TokenCount); err != nil {
			s.log.WarnContext(ctx, "counting a swept story's usage failed", slog.String("story_id", string(st.ID)), slog.Any("error", err))
		}
		var took time.Duration
		if st.StartedAt != nil {
			took = now.Sub(*st.StartedAt)
		}
		s.cfg.Observer.StoryFinished(strings.ToLower(status.String()), took)
		s.log.WarnContext(ctx, "ended a story whose generator stopped",
			slog.String("story_id", string(st.ID)), slog.String("previous_owner", *st.LeaseOwner), slog.String("status", status.String()))
		ev := broker.Event{StoryID: string(st.ID), Offset: len(st.Text), Status: status.String(), TokenCount: st.TokenCount}
		if errMsg != nil {
			ev.Error = *errMsg
		}
		if err := s.broker.Publish(ctx, ev); err != nil {
			s.log.WarnContext(ctx, "publishing a swept story's end failed", slog.String("story_id", string(st.ID)), slog.Any("error", err))
		}
	}
	return nil
}

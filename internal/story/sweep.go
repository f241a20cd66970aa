package story

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/storybot/storybot/ent"
	"github.com/storybot/storybot/ent/predicate"
	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/internal/broker"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/viewer"
)

// interruptedMsg is the error of a story whose generating replica stopped
// renewing its lease.
const interruptedMsg = "interrupted: the server generating it stopped"

// sweep ends the stories whose replica is gone: it holds no presence lock
// (it died), or their lease expired (it died, or lost the store for longer
// than a lease). A story that was being cancelled ends
// CANCELLED, any other FAILED; the text stored so far is kept, and the end is
// published to every replica's subscribers. Replicas sweep concurrently; the
// lease condition lets exactly one win each story.
func (s *Service) sweep(ctx context.Context) error {
	ctx = viewer.System(ctx) // every user's stories
	now := time.Now().UTC()
	expired, err := s.client.Story.Query().
		Where(
			entstory.StatusIn(entstory.StatusPending, entstory.StatusGenerating, entstory.StatusCancelled),
			s.abandoned(now),
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
		n, err := s.sweepOne(ctx, st, status, errMsg, now)
		if err != nil {
			return err
		}
		if n == 0 {
			continue // renewed, or another replica swept it
		}
		var took time.Duration
		if st.StartedAt != nil {
			took = now.Sub(*st.StartedAt)
		}
		s.cfg.Observer.StoryFinished(strings.ToLower(status.String()), took)
		s.log.WarnContext(ctx, "ended a story whose generator stopped",
			slog.String("story_id", string(st.ID)), slog.String("previous_owner", *st.LeaseOwner), slog.String("status", status.String()))
		ev := broker.Event{StoryID: string(st.ID), Offset: st.TextLength, Status: status.String(), TokenCount: st.TokenCount}
		if errMsg != nil {
			ev.Error = *errMsg
		}
		if err := s.broker.Publish(ctx, ev); err != nil {
			s.log.WarnContext(ctx, "publishing a swept story's end failed", slog.String("story_id", string(st.ID)), slog.Any("error", err))
		}
	}
	return nil
}

// abandoned matches the stories whose lease expired or, with presence
// locks, whose owner is gone.
func (s *Service) abandoned(now time.Time) predicate.Story {
	if !s.presence() {
		return entstory.LeaseExpiresAtLT(now)
	}
	return entstory.Or(entstory.LeaseExpiresAtLT(now), s.ownerGone(now))
}

// sweepOne ends an abandoned story, if it still is, and
// counts its usage in the same transaction. It returns 1 when it did.
func (s *Service) sweepOne(ctx context.Context, st *ent.Story, status entstory.Status, errMsg *string, now time.Time) (int, error) {
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	n, err := tx.Story.Update().
		Where(entstory.ID(st.ID), entstory.LeaseOwnerEQ(*st.LeaseOwner), s.abandoned(now)).
		SetStatus(status).
		SetNillableError(errMsg).
		SetFinishedAt(now).
		SetUpdatedAt(now).
		SetReservedTokens(0).
		ClearLeaseOwner().
		ClearLeaseExpiresAt().
		Save(ctx)
	if err != nil || n == 0 {
		return 0, err
	}
	if err := foldPieces(ctx, tx, []pulid.ID{st.ID}); err != nil {
		return 0, err
	}
	if u := usageOf(st, st.TokenCount, llmUsage{}); u != nil {
		if err := countUsage(ctx, tx, []*usage{u}); err != nil {
			return 0, err
		}
	}
	return n, tx.Commit()
}

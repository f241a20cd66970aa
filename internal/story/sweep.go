package story

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/storybot/storybot/ent"
	"github.com/storybot/storybot/ent/predicate"
	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/internal/broker"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/telemetry"
	"github.com/storybot/storybot/internal/viewer"
)

// interruptedMsg is the error of a story whose generating replica stopped
// renewing its lease.
const interruptedMsg = "interrupted: the server generating it stopped"

// sweep takes over or ends the stories whose replica is gone: it holds no
// presence lock (it died), or their lease expired (it died, or lost the
// store for longer than a lease). A story being written is taken over:
// this replica goes on writing it from its stored text, as a continuation
// with no instruction, and its readers see a pause (see takeOver). A story
// that was being cancelled ends CANCELLED; one that cannot be taken over
// (taken over maxTakeovers times already, or its continuation refused: a
// quota, a full queue) ends FAILED. The text stored so far is kept, and an
// end is published to every replica's subscribers. Replicas sweep
// concurrently; the lease condition lets exactly one win each story.
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
		if st.Status != entstory.StatusCancelled && st.Takeovers < maxTakeovers {
			took, err := s.takeOver(ctx, st, now)
			if err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "taking over a story whose generator stopped failed; ending it",
					slog.String("storybot.story.id", string(st.ID)), telemetry.Error(err))
			}
			if took || ctx.Err() != nil {
				continue
			}
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
			slog.String("storybot.story.id", string(st.ID)), slog.String("storybot.story.previous_owner", *st.LeaseOwner), slog.String("storybot.story.status", status.String()))
		ev := broker.Event{StoryID: string(st.ID), Offset: st.TextLength, Status: status.String(), TokenCount: st.TokenCount}
		if errMsg != nil {
			ev.Error = *errMsg
		}
		if err := s.broker.Publish(ctx, ev); err != nil {
			s.log.WarnContext(ctx, "publishing a swept story's end failed", slog.String("storybot.story.id", string(st.ID)), telemetry.Error(err))
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

// sweepOne ends an abandoned story, if it still is, and counts its usage
// in the same transaction. It returns 1 when it did.
func (s *Service) sweepOne(ctx context.Context, st *ent.Story, status entstory.Status, errMsg *string, now time.Time) (int, error) {
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	n, err := s.endAbandoned(ctx, tx, st, status, errMsg, now)
	if err != nil || n == 0 {
		return 0, err
	}
	return n, tx.Commit()
}

// endAbandoned ends the run of st, abandoned by its replica, in tx if st
// still is: its status, its pieces folded into its text, its reservation
// given back and what the run used counted. It returns 1 when it did.
func (s *Service) endAbandoned(ctx context.Context, tx *ent.Tx, st *ent.Story, status entstory.Status, errMsg *string, now time.Time) (int, error) {
	ctx = viewer.System(ctx)
	// The run's tokens are those after the story's earlier runs, which a
	// continued story's counts hold; it used the prompt only if it was the
	// first run (a continuation's own estimate died with its replica).
	completion := max(st.TokenCount-st.CompletionTokens, 0)
	n, err := tx.Story.Update().
		Where(entstory.ID(st.ID), entstory.LeaseOwnerEQ(*st.LeaseOwner), s.abandoned(now)).
		SetStatus(status).
		SetNillableError(errMsg).
		SetFinishedAt(now).
		SetUpdatedAt(now).
		SetReservedTokens(0).
		SetCompletionTokens(st.CompletionTokens + completion).
		ClearLeaseOwner().
		ClearLeaseExpiresAt().
		Save(ctx)
	if err != nil || n == 0 {
		return 0, err
	}
	if err := foldPieces(ctx, tx, []pulid.ID{st.ID}); err != nil {
		return 0, err
	}
	if u := usageOf(st, completion, llmUsage{}); u != nil {
		if st.CompletionTokens > 0 {
			u.promptTokens = 0
		}
		if err := countUsage(ctx, tx, []*usage{u}); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// maxTakeovers bounds how often replicas take a story over: a story whose
// generators keep dying ends FAILED.
const maxTakeovers = 3

// errTakenElsewhere means another replica took over or ended the story
// first.
var errTakenElsewhere = errors.New("taken over or ended by another replica")

// takeOver goes on writing st, abandoned by its replica, here: in one
// transaction, the dead run is ended (as endAbandoned does) and the story
// reopened as a continuation with no instruction, leased to this replica,
// with what is left of its token budget; then the run starts. Nothing is
// published in between, so subscribers on every replica see a pause, then
// the story's text goes on from where the store has it. It reports whether
// it took the story; false with no error when nothing is left to write.
func (s *Service) takeOver(ctx context.Context, st *ent.Story, now time.Time) (bool, error) {
	left := st.MaxTokens - st.TokenCount
	if left < 1 || st.UserID == "" {
		return false, nil
	}
	// The continuation runs as its owner would start it, under the trace
	// of the request that started the story.
	owner := viewer.NewContext(telemetry.ContextWithTraceID(s.base, st.TraceID), &viewer.Viewer{UserID: st.UserID, Role: viewer.RoleUser})
	p, err := s.prompt(owner, st.PromptID)
	if err != nil {
		return false, err
	}
	_, err = s.launch(owner, p, func(tx *ent.Tx) (*ent.Story, *reservation, error) {
		n, err := s.endAbandoned(ctx, tx, st, entstory.StatusFailed, ptr(interruptedMsg), now)
		if err != nil {
			return nil, nil, err
		}
		if n == 0 {
			return nil, nil, errTakenElsewhere
		}
		ended, err := tx.Story.UpdateOneID(st.ID).AddTakeovers(1).Save(viewer.System(ctx))
		if err != nil {
			return nil, nil, err
		}
		return s.reopen(owner, tx, ended, p, min(left, s.cfg.MaxMaxTokens))
	}, job{continued: true})
	if errors.Is(err, errTakenElsewhere) || errors.Is(err, ErrShuttingDown) {
		return true, nil // not ours to end: another replica's now, or later
	}
	if err != nil {
		return false, err
	}
	s.log.WarnContext(ctx, "took over a story whose generator stopped",
		slog.String("storybot.story.id", string(st.ID)), slog.String("storybot.story.previous_owner", *st.LeaseOwner), slog.Int("storybot.story.takeover", st.Takeovers+1))
	return true, nil
}

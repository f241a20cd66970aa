package story

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"entgo.io/ent/dialect"

	"github.com/storybot/storybot/ent"
	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/ent/usageday"
	"github.com/storybot/storybot/ent/user"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/viewer"
)

// Quotas hold across replicas because they live in the database: a story
// starts in a transaction that locks its owner's row, counts their running
// stories, and reserves its tokens in the owner's usage of the day. The
// reservation is the prompt (estimated) plus the most the story may write;
// when less than maxTokens is left, the story may write only what is left,
// and ends FAILED, its text kept, if it needs more. As the story ends its
// reservation is given back and what it really used is counted: the model
// server's usage when it sends one, else storybot's count.

// ErrQuotaExceeded is returned when a user may not start another story now:
// too many running, or no tokens left today.
var ErrQuotaExceeded = errors.New("quota exceeded")

// quotaReachedMsg is the error of a story cut short by its owner's daily
// token limit.
const quotaReachedMsg = "stopped: your daily token limit was reached (the text so far is kept)"

// day names the UTC day of t, as usage is kept.
func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// estimateTokens estimates the tokens a model server counts for s, about
// four bytes each, for reservations and when the server reports no usage.
func estimateTokens(s string) int { return max(1, (len(s)+3)/4) }

// reservation is what starting a story took from its owner's quota.
type reservation struct {
	day          string
	promptTokens int
	budget       int // the most tokens the story may write
	total        int // promptTokens + budget: reserved in the day's usage
}

// reserve checks tx's user against the quotas and reserves tokens for a
// story of maxTokens about prompt. Run it in the transaction that creates
// the story.
func (s *Service) reserve(ctx context.Context, tx *ent.Tx, uid pulid.ID, prompt string, maxTokens int) (*reservation, error) {
	sys := viewer.System(ctx)
	q := tx.User.Query().Where(user.ID(uid))
	if s.cfg.Dialect == dialect.Postgres {
		q = q.ForUpdate() // one start at a time per user, on every replica
	}
	u, err := q.Only(sys)
	if err != nil {
		return nil, err
	}
	if limit := s.cfg.UserMaxRunning; limit > 0 {
		running, err := tx.Story.Query().
			Where(entstory.UserID(uid), entstory.StatusIn(entstory.StatusPending, entstory.StatusGenerating)).
			Count(sys)
		if err != nil {
			return nil, err
		}
		if running >= limit {
			return nil, fmt.Errorf("%w: you have %d stories being written, the most at once; wait for one to finish", ErrQuotaExceeded, running)
		}
	}
	r := &reservation{day: day(time.Now()), promptTokens: estimateTokens(prompt), budget: maxTokens}
	limit := s.dailyLimit(u)
	if limit > 0 {
		used, reserved, err := usageOn(sys, tx.Client(), uid, r.day)
		if err != nil {
			return nil, err
		}
		left := limit - used - reserved - r.promptTokens
		if left < 1 {
			return nil, fmt.Errorf("%w: your daily limit of %d tokens is used up; it renews at 00:00 UTC", ErrQuotaExceeded, limit)
		}
		r.budget = min(maxTokens, left)
	}
	r.total = r.promptTokens + r.budget
	err = tx.UsageDay.Create().SetUserID(uid).SetDay(r.day).SetReserved(r.total).
		OnConflictColumns(usageday.FieldUserID, usageday.FieldDay).
		AddReserved(r.total).
		Exec(sys)
	return r, err
}

// dailyLimit is u's daily token limit: their own, else the server's; 0 for
// none.
func (s *Service) dailyLimit(u *ent.User) int {
	if u.DailyTokenLimit != nil {
		return *u.DailyTokenLimit
	}
	return s.cfg.UserDailyTokens
}

// usageOn returns a user's used and reserved tokens on day.
func usageOn(ctx context.Context, client *ent.Client, uid pulid.ID, d string) (used, reserved int, err error) {
	u, err := client.UsageDay.Query().Where(usageday.UserID(uid), usageday.Day(d)).Only(ctx)
	if ent.IsNotFound(err) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	return u.Tokens, u.Reserved, nil
}

// settleSQL gives back a story's reservation and counts what it used, once:
// the story's reserved_tokens guards it, so a retry changes nothing.
const (
	settleStorySQL = `UPDATE stories SET reserved_tokens = 0, prompt_tokens = $1, completion_tokens = $2
WHERE id = $3 AND reserved_tokens = $4 AND usage_day IS NOT NULL`
	settleUsageSQL = `UPDATE usage_days SET tokens = tokens + $1, reserved = CASE WHEN reserved > $2 THEN reserved - $2 ELSE 0 END
WHERE user_id = $3 AND day = $4`
)

// settleUsage gives back what a story reserved and counts what it used.
func (s *Service) settleUsage(ctx context.Context, st *ent.Story, promptTokens, completionTokens int) error {
	if st.UsageDay == nil || st.UserID == "" {
		return nil
	}
	tx, err := s.client.Tx(viewer.System(ctx))
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, settleStorySQL, promptTokens, completionTokens, string(st.ID), st.ReservedTokens)
	if err != nil {
		return err
	}
	if n, err := res.(sql.Result).RowsAffected(); err != nil || n == 0 {
		return err // settled already
	}
	if _, err := tx.ExecContext(ctx, settleUsageSQL, promptTokens+completionTokens, st.ReservedTokens, string(st.UserID), *st.UsageDay); err != nil {
		return err
	}
	return tx.Commit()
}

// Usage is a user's model usage today and their limits.
type Usage struct {
	// TokensToday counts the finished stories of today (UTC) and what the
	// running ones used so far.
	TokensToday     int
	DailyTokenLimit *int
	StoriesRunning  int
	MaxRunning      *int
}

// Usage returns u's usage today and limits.
func (s *Service) Usage(ctx context.Context, u *ent.User) (*Usage, error) {
	sys := viewer.System(ctx)
	used, _, err := usageOn(sys, s.client, u.ID, day(time.Now()))
	if err != nil {
		return nil, err
	}
	running, err := s.client.Story.Query().
		Where(entstory.UserID(u.ID), entstory.StatusIn(entstory.StatusPending, entstory.StatusGenerating)).
		All(sys)
	if err != nil {
		return nil, err
	}
	today := day(time.Now())
	for _, st := range running {
		if st.UsageDay != nil && *st.UsageDay == today {
			used += st.PromptTokens + st.TokenCount
		}
	}
	out := &Usage{TokensToday: used, StoriesRunning: len(running)}
	if limit := s.dailyLimit(u); limit > 0 {
		out.DailyTokenLimit = &limit
	}
	if m := s.cfg.UserMaxRunning; m > 0 {
		out.MaxRunning = &m
	}
	return out, nil
}

package story

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
	maxTokens    int // the most tokens the story asked to write
	budget       int // the most tokens the story may write: maxTokens, or less when its owner's quota is nearly spent
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
	r := &reservation{day: day(time.Now()), promptTokens: estimateTokens(prompt), maxTokens: maxTokens, budget: maxTokens}
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

// countUsage adds what stories used to their owners' usage of the day and
// gives back their reservations, in one statement (q is the transaction
// that stored their ends).
func countUsage(ctx context.Context, q querier, used []*usage) error {
	if len(used) == 0 {
		return nil
	}
	type key struct {
		user pulid.ID
		day  string
	}
	sums := map[key]*[2]int{} // tokens used, tokens reserved
	var keys []key
	for _, u := range used {
		k := key{u.user, u.day}
		if sums[k] == nil {
			sums[k] = new([2]int)
			keys = append(keys, k)
		}
		sums[k][0] += u.promptTokens + u.completion
		sums[k][1] += u.reserved
	}
	var b strings.Builder
	args := make([]any, 0, 4*len(keys))
	b.WriteString(`UPDATE usage_days
SET tokens = usage_days.tokens + v.column3,
	reserved = CASE WHEN usage_days.reserved > v.column4 THEN usage_days.reserved - v.column4 ELSE 0 END
FROM (VALUES `)
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&b, "(CAST($%d AS TEXT), CAST($%d AS TEXT), CAST($%d AS BIGINT), CAST($%d AS BIGINT))", n+1, n+2, n+3, n+4)
		args = append(args, string(k.user), k.day, sums[k][0], sums[k][1])
	}
	b.WriteString(") AS v\nWHERE usage_days.user_id = v.column1 AND usage_days.day = v.column2")
	_, err := q.ExecContext(ctx, b.String(), args...)
	return err
}

// usageOf is what st used as it ends: the model server's counts when it
// reported them, else the prompt's estimate and the tokens generated.
func usageOf(st *ent.Story, tokens int, reported llmUsage) *usage {
	if st.UsageDay == nil || st.UserID == "" {
		return nil
	}
	u := &usage{user: st.UserID, day: *st.UsageDay, reserved: st.ReservedTokens, promptTokens: st.PromptTokens, completion: tokens}
	if reported.PromptTokens > 0 || reported.CompletionTokens > 0 {
		u.promptTokens, u.completion = reported.PromptTokens, reported.CompletionTokens
	}
	return u
}

// llmUsage is the usage a model server reported.
type llmUsage struct{ PromptTokens, CompletionTokens int }

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

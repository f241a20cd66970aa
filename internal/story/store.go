package story

import (
	"context"
	"database/sql"
	"time"

	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/internal/pulid"
)

// The two writes on the hot path are plain SQL, the same for Postgres and
// SQLite, so that each is one statement that also says what the row became.
// (SQLite numbers $N parameters by first appearance: keep them in order.)

const appendSQL = `UPDATE stories
SET text = text || $1, token_count = $2, updated_at = $3, lease_expires_at = $4
WHERE id = $5 AND lease_owner = $6
RETURNING status`

const endSQL = `UPDATE stories
SET text = text || $1, token_count = $2,
	status = CASE WHEN status = 'CANCELLED' THEN 'CANCELLED' ELSE $3 END,
	error = CASE WHEN status = 'CANCELLED' THEN NULL ELSE $4 END,
	model = $5, updated_at = $6, finished_at = $6, lease_owner = NULL, lease_expires_at = NULL
WHERE id = $7 AND lease_owner = $8
RETURNING status`

// appendText appends delta to a story this replica owns, sets its token
// count and extends its lease. It returns the story's status, which tells
// the owner whether another replica cancelled it; errLeaseLost when this
// replica no longer owns it.
func (s *Service) appendText(ctx context.Context, id pulid.ID, owner, delta string, tokens int, now, leaseUntil time.Time) (entstory.Status, error) {
	var status entstory.Status
	err := s.queryRow(ctx, appendSQL, []any{delta, tokens, now, leaseUntil, string(id), owner}, &status)
	return status, err
}

// end appends the last text of a story this replica owns, stores its final
// status and gives up the lease. A story cancelled meanwhile stays CANCELLED;
// the stored status is returned.
func (s *Service) end(ctx context.Context, id pulid.ID, owner, delta string, tokens int, status entstory.Status, errMsg *string, model string, now time.Time) (entstory.Status, error) {
	var (
		stored entstory.Status
		msg    sql.NullString
	)
	if errMsg != nil {
		msg = sql.NullString{String: *errMsg, Valid: true}
	}
	err := s.queryRow(ctx, endSQL, []any{delta, tokens, status.String(), msg, model, now, string(id), owner}, &stored)
	return stored, err
}

func (s *Service) queryRow(ctx context.Context, query string, args []any, dest any) error {
	rows, err := s.client.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return errLeaseLost
	}
	if err := rows.Scan(dest); err != nil {
		return err
	}
	return rows.Close()
}

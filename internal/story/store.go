package story

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/internal/pulid"
)

// The writes on the hot path are plain SQL, the same for Postgres and
// SQLite, so that each is one statement that also says what the row became.
// (SQLite numbers $N parameters by first appearance: keep them in order.)
//
// Appends are idempotent: each names the byte offset it appends at, so a
// write retried after its answer was lost (the database restarting, say)
// never stores the same text twice.

const endSQL = `UPDATE stories
SET text = text || $1, token_count = $2,
	status = CASE WHEN status = 'CANCELLED' THEN 'CANCELLED' ELSE $3 END,
	error = CASE WHEN status = 'CANCELLED' THEN NULL ELSE $4 END,
	model = $5, updated_at = $6, finished_at = $6, lease_owner = NULL, lease_expires_at = NULL
WHERE id = $7 AND lease_owner = $8 AND octet_length(text) = $9
RETURNING status`

const rowStateSQL = `SELECT status, lease_owner, octet_length(text) FROM stories WHERE id = $1`

// end appends the last text of a story this replica owns (at offset),
// stores its final status and gives up the lease. A story cancelled
// meanwhile stays CANCELLED; the stored status is returned.
func (s *Service) end(ctx context.Context, id pulid.ID, owner string, offset int, delta string, tokens int, status entstory.Status, errMsg *string, model string, now time.Time) (entstory.Status, error) {
	var (
		stored entstory.Status
		msg    sql.NullString
	)
	if errMsg != nil {
		msg = sql.NullString{String: *errMsg, Valid: true}
	}
	found, err := s.queryRow(ctx, endSQL, []any{delta, tokens, status.String(), msg, model, now, string(id), owner, offset}, &stored)
	if err != nil || found {
		return stored, err
	}
	return s.settle(ctx, id, owner, offset+len(delta), true)
}

// settle explains a lease-guarded write that matched no row: either an
// earlier attempt of the same write did commit (its answer was lost), and
// the row already holds want bytes, or the lease is gone.
func (s *Service) settle(ctx context.Context, id pulid.ID, owner string, want int, ending bool) (entstory.Status, error) {
	var (
		status entstory.Status
		holder sql.NullString
		length int
	)
	rows, err := s.client.QueryContext(ctx, rowStateSQL, string(id))
	if err != nil {
		return "", err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return "", err
		}
		return "", errLeaseLost // deleted with its prompt
	}
	if err := rows.Scan(&status, &holder, &length); err != nil {
		return "", err
	}
	mine := holder.Valid && holder.String == owner
	released := !holder.Valid && ending && isTerminal(status)
	switch {
	case (mine || released) && length == want:
		return status, nil // the earlier attempt committed
	case mine:
		return "", fmt.Errorf("story %s holds %d bytes of text, expected %d", id, length, want)
	}
	return "", errLeaseLost
}

// queryRow runs a statement that returns at most one row, scanning it into
// dest; found says whether there was one.
func (s *Service) queryRow(ctx context.Context, query string, args []any, dest any) (found bool, err error) {
	rows, err := s.client.QueryContext(ctx, query, args...)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return false, rows.Err()
	}
	if err := rows.Scan(dest); err != nil {
		return false, err
	}
	return true, rows.Close()
}

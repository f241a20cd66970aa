package story

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/storybot/storybot/ent"
	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/internal/pulid"
)

// Text returns the text of st, a story read from the store: its stored
// text, followed by its pieces while it runs. The pieces are read as the
// store holds them now, up to the length st was read with, so that the text
// agrees with st's token count.
func (s *Service) Text(ctx context.Context, st *ent.Story) (string, error) {
	if st.TextLength <= len(st.Text) {
		return st.Text, nil // no pieces: the story has ended, or has not begun
	}
	stored, err := s.readFrom(ctx, st.ID, 0)
	if err != nil {
		return "", err
	}
	return stored.text[:min(len(stored.text), st.TextLength)], nil
}

// stored is a story as the store holds it, with its text from some byte on.
type stored struct {
	status entstory.Status
	tokens int
	errMsg *string
	length int    // bytes of text stored
	text   string // the text from the byte asked for on
}

// readFromSQL reads a story and its text from byte $2 on, in one statement
// so that the text and the row agree: its stored text when that reaches
// past $2, and its pieces that end past $2 (with where the first of them
// starts). Each parameter appears once and in order, as SQLite numbers them.
const readFromSQL = `WITH a(id, since) AS (SELECT CAST($1 AS TEXT), CAST($2 AS BIGINT))
SELECT s.status, s.token_count, s.error, s.text_length,
	CASE WHEN octet_length(s.text) > a.since THEN s.text ELSE '' END,
	(SELECT min(p.start) FROM story_pieces p WHERE p.story_id = s.id AND p.start + octet_length(p.text) > a.since),
	(SELECT string_agg(p.text, '' ORDER BY p.start) FROM story_pieces p WHERE p.story_id = s.id AND p.start + octet_length(p.text) > a.since)
FROM stories s, a
WHERE s.id = a.id`

// readFrom reads story id as the store holds it now, with its text from
// byte from on (empty when from is at or past its end).
func (s *Service) readFrom(ctx context.Context, id pulid.ID, from int) (stored, error) {
	var (
		st         stored
		errMsg     sql.NullString
		head       string
		firstPiece sql.NullInt64
		pieces     sql.NullString
	)
	rows, err := s.client.QueryContext(ctx, readFromSQL, string(id), from)
	if err != nil {
		return st, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return st, err
		}
		return st, fmt.Errorf("story %w", ErrNotFound)
	}
	if err := rows.Scan(&st.status, &st.tokens, &errMsg, &st.length, &head, &firstPiece, &pieces); err != nil {
		return st, err
	}
	if errMsg.Valid {
		st.errMsg = &errMsg.String
	}
	// head is the whole stored text or nothing; the pieces follow it.
	start := from
	switch {
	case head != "":
		st.text = head[from:] + pieces.String
	case firstPiece.Valid && int(firstPiece.Int64) <= from:
		st.text = pieces.String[from-int(firstPiece.Int64):]
	case firstPiece.Valid:
		start = int(firstPiece.Int64) // a gap: checked below
	}
	if end := start + len(st.text); start != from || end != max(st.length, from) {
		return st, errors.Join(errTextGap, fmt.Errorf("story %s: text from byte %d to %d stored, %d bytes in all", id, start, end, st.length))
	}
	return st, nil
}

// errTextGap means a story's stored text and pieces do not join up, which
// the lease-guarded writes never leave behind.
var errTextGap = errors.New("story text has a gap")

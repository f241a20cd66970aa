package story

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/internal/pulid"
)

// A story's text is a log: each flush inserts the new piece of every due
// story into story_pieces, at its byte offset, and moves the story's
// text_length past it; no statement rewrites text stored earlier. The text
// is its stored text (what it held when its run began) followed by its
// pieces. When a story ends, the transaction that stores its end also folds
// its pieces into its text and deletes them, so that a finished story is
// one row to read and the log holds only running stories.
//
// The writes on the hot path, a running story's pieces and its end, are
// plain SQL, the same for Postgres and SQLite, so that each is one statement
// per kind that also says what the rows became.
//
// They are idempotent: each names the byte offset it appends at, so a write
// retried after its answer was lost (the database restarting, say) never
// stores the same text twice. And they are lease-guarded: only the replica
// holding a story's lease writes it.
//
// A replica running many stories writes the text of all of them every
// FlushInterval. One transaction per story would queue a thousand flush
// loops on the connection pool, so writes are committed in groups: each
// waits in a queue, and up to maxWritersInFlight writers, started on demand,
// take everything queued and write it in one transaction per kind (appends,
// ends). Alone, a write goes at once; under load, the writes that arrive
// while a transaction runs go together in the next.

// Group commit limits: statements running at once, and stories per
// statement (each takes up to ten parameters; SQLite allows 32,766 and
// Postgres 65,535).
const (
	maxWritersInFlight = 2
	maxWriteGroup      = 500
)

// writeTimeout bounds one group's statements.
const writeTimeout = 5 * time.Second

// write is one story's append, or its end.
type write struct {
	id     pulid.ID
	owner  string
	offset int // byte length of the text stored so far, where delta goes
	delta  string
	tokens int
	end    *ending // nil for an append

	// Set by the writer before done is closed.
	status  entstory.Status
	applied bool // this write's statement changed the row (not an earlier attempt's)
	err     error
	done    chan struct{}
}

// ending is what a story's last write stores besides its text.
type ending struct {
	status entstory.Status
	errMsg *string
	model  string
	usage  *usage // nil for a story that reserved nothing
}

// usage is what a story used of its owner's quota, counted as it ends:
// the tokens it used go to the day's usage, its reservation goes back.
type usage struct {
	user                     pulid.ID
	day                      string
	reserved                 int
	promptTokens, completion int // this run's
	// The story's counts before this run: a continued story's earlier
	// runs, to which the story's counts add this one's.
	basePrompt, baseCompletion int
}

// writeQueue holds the writes waiting for a writer; the zero value is
// ready.
type writeQueue struct {
	mu      sync.Mutex
	queue   []*write
	writers int
}

// appendText appends delta, at byte offset, to a story that owner leases,
// sets its token count and extends its lease. It returns the story's
// status, which tells the owner whether another replica cancelled it;
// errLeaseLost when owner no longer holds it.
func (s *Service) appendText(ctx context.Context, id pulid.ID, owner string, offset int, delta string, tokens int) (entstory.Status, error) {
	return s.write(ctx, &write{id: id, owner: owner, offset: offset, delta: delta, tokens: tokens})
}

// end appends the last text of a story that owner leases (at offset),
// stores its final status and gives up the lease. A story cancelled
// meanwhile stays CANCELLED; the stored status is returned.
// The same transaction counts the story's usage, when it has one.
func (s *Service) end(ctx context.Context, id pulid.ID, owner string, offset int, delta string, tokens int, status entstory.Status, errMsg *string, model string, use *usage) (entstory.Status, error) {
	return s.write(ctx, &write{
		id: id, owner: owner, offset: offset, delta: delta, tokens: tokens,
		end: &ending{status: status, errMsg: errMsg, model: model, usage: use},
	})
}

// write queues w and waits for its outcome. Once queued, a write is carried
// out whatever happens to ctx, so that the caller always learns whether its
// text was stored.
func (s *Service) write(ctx context.Context, w *write) (entstory.Status, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	w.done = make(chan struct{})
	q := &s.writes
	q.mu.Lock()
	q.queue = append(q.queue, w)
	if q.writers < maxWritersInFlight {
		q.writers++
		go s.writeQueued()
	}
	q.mu.Unlock()
	<-w.done
	return w.status, w.err
}

// writeQueued writes the queue in groups until it is empty.
func (s *Service) writeQueued() {
	q := &s.writes
	for {
		q.mu.Lock()
		n := min(len(q.queue), maxWriteGroup)
		if n == 0 {
			q.writers--
			q.mu.Unlock()
			return
		}
		group := q.queue[:n:n]
		// A new array for the rest, so that the written ones can go.
		q.queue = append([]*write(nil), q.queue[n:]...)
		q.mu.Unlock()

		// Under no caller's context: the statements carry every queued
		// story's write, and a run stores its end after its own context
		// has ended.
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		var appends, ends []*write
		for _, w := range group {
			if w.end == nil {
				appends = append(appends, w)
			} else {
				ends = append(ends, w)
			}
		}
		now := time.Now().UTC()
		if len(appends) > 0 {
			s.writeAppends(ctx, appends, now)
		}
		if len(ends) > 0 {
			s.writeEnds(ctx, ends, now)
		}
		cancel()
		for _, w := range group {
			close(w.done)
		}
	}
}

// querier runs statements: the client, or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// writeAppends stores a group's pieces and moves each story's text_length
// past its piece. A lease is renewed only once a third of it has gone (as
// a run renews it when no text comes), so that most flushes change no
// indexed column of stories and Postgres can update the row in place (a
// HOT update).
func (s *Service) writeAppends(ctx context.Context, group []*write, now time.Time) {
	lease := s.cfg.LeaseDuration
	query, args := appendSQL(group, now, now.Add(lease), now.Add(lease*2/3))
	s.writeTx(ctx, group, query, args, nil)
}

// writeEnds stores a group's ends: each story's last piece is folded into
// its text with the pieces before it, which are then deleted. The same
// transaction counts the usage of the stories whose end it stored: exactly
// once, since a retried end matches no row.
func (s *Service) writeEnds(ctx context.Context, group []*write, now time.Time) {
	query, args := endSQL(group, now)
	s.writeTx(ctx, group, query, args, func(tx querier, applied []*write) error {
		ids := make([]pulid.ID, len(applied))
		var used []*usage
		for i, w := range applied {
			ids[i] = w.id
			if w.end.usage != nil {
				used = append(used, w.end.usage)
			}
		}
		if err := deletePieces(ctx, tx, ids); err != nil {
			return err
		}
		return countUsage(ctx, tx, used)
	})
}

// writeTx runs a group's statement in a transaction, then runs then with
// the writes it applied: ends, or (when then is nil) appends, whose pieces
// it inserts. When any of it fails, nothing is stored and every write of
// the group fails.
func (s *Service) writeTx(ctx context.Context, group []*write, query string, args []any, then func(tx querier, applied []*write) error) {
	fail := func(err error) {
		for _, w := range group {
			w.status, w.applied, w.err = "", false, err
		}
	}
	tx, err := s.client.Tx(ctx)
	if err != nil {
		fail(err)
		return
	}
	s.writeGroup(ctx, tx, group, query, args)
	var applied []*write
	for _, w := range group {
		if w.applied {
			applied = append(applied, w)
		}
	}
	if then == nil {
		err = insertPieces(ctx, tx, applied)
	} else {
		err = then(tx, applied)
	}
	if err == nil {
		err = tx.Commit()
	} else {
		_ = tx.Rollback()
	}
	if err != nil {
		fail(err)
	}
}

// insertPieces stores the pieces of the writes whose statement applied
// them; a write with no text adds no piece.
func insertPieces(ctx context.Context, q querier, group []*write) error {
	group = slices.DeleteFunc(slices.Clone(group), func(w *write) bool { return w.delta == "" })
	for chunk := range slices.Chunk(group, maxWriteGroup) {
		var b strings.Builder
		args := make([]any, 0, 4*len(chunk))
		b.WriteString("INSERT INTO story_pieces (story_id, start, text, token_count) VALUES ")
		for i, w := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&b, "($%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4)
			args = append(args, string(w.id), w.offset, w.delta, w.tokens)
		}
		if _, err := q.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// piecesSQL is a story's pieces in order, as one string (NULL when it has
// none), for a statement on stories.
const piecesSQL = `(SELECT string_agg(p.text, '' ORDER BY p.start) FROM story_pieces p WHERE p.story_id = stories.id)`

// foldPieces appends the pieces of stories ids to their text and deletes
// them.
func foldPieces(ctx context.Context, q querier, ids []pulid.ID) error {
	for chunk := range slices.Chunk(ids, maxWriteGroup) {
		in, args := inList(chunk)
		if _, err := q.ExecContext(ctx, `UPDATE stories SET text = stories.text || `+piecesSQL+`
WHERE stories.id IN (`+in+`) AND EXISTS (SELECT 1 FROM story_pieces p WHERE p.story_id = stories.id)`, args...); err != nil {
			return err
		}
	}
	return deletePieces(ctx, q, ids)
}

// deletePieces deletes the pieces of stories ids.
func deletePieces(ctx context.Context, q querier, ids []pulid.ID) error {
	for chunk := range slices.Chunk(ids, maxWriteGroup) {
		in, args := inList(chunk)
		if _, err := q.ExecContext(ctx, `DELETE FROM story_pieces WHERE story_id IN (`+in+`)`, args...); err != nil {
			return err
		}
	}
	return nil
}

// inList returns "$1, $2, ..." for ids, and ids as parameters.
func inList(ids []pulid.ID) (string, []any) {
	var b strings.Builder
	args := make([]any, len(ids))
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", i+1)
		args[i] = string(id)
	}
	return b.String(), args
}

// writeGroup runs a group's statement, which returns the id and status of
// every story it changed, then explains the writes that matched no row one
// by one (see settle).
func (s *Service) writeGroup(ctx context.Context, q querier, group []*write, query string, args []any) {
	start := time.Now()
	defer func() { s.cfg.Observer.StoriesWritten(len(group), time.Since(start)) }()
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		for _, w := range group {
			w.err = err
		}
		return
	}
	byID := make(map[pulid.ID]*write, len(group))
	for _, w := range group {
		byID[w.id] = w
	}
	for rows.Next() {
		var (
			id     pulid.ID
			status entstory.Status
		)
		if err = rows.Scan(&id, &status); err != nil {
			break
		}
		if w := byID[id]; w != nil {
			w.status, w.applied = status, true
		}
	}
	if err == nil {
		err = rows.Err()
	}
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	for _, w := range group {
		switch {
		case err != nil:
			w.err = err
		case w.status == "":
			w.status, w.err = settle(ctx, q, w.id, w.owner, w.offset+len(w.delta), w.end != nil)
		}
	}
}

// appendSQL builds the statement that moves each story of a group past
// its piece, only at its offset and while its owner holds the lease, and
// renews the leases that end before renewBefore.
func appendSQL(group []*write, now, leaseUntil, renewBefore time.Time) (string, []any) {
	return groupSQL(`text_length = v.column4 + octet_length(v.column2), token_count = v.column3, updated_at = $1,
	lease_expires_at = CASE WHEN stories.lease_expires_at < $3 THEN $2 ELSE stories.lease_expires_at END`,
		[]any{now, leaseUntil, renewBefore}, group, nil, func(*write) []any { return nil })
}

// endSQL builds the statement that stores the end of each story of a
// group: its text, with its pieces and its last piece folded in, its
// status (a story cancelled meanwhile stays CANCELLED), error and model,
// giving up the leases.
func endSQL(group []*write, now time.Time) (string, []any) {
	return groupSQL(`text = stories.text || COALESCE(`+piecesSQL+`, '') || v.column2,
	text_length = v.column4 + octet_length(v.column2), token_count = v.column3,
	status = CASE WHEN stories.status = 'CANCELLED' THEN 'CANCELLED' ELSE v.column6 END,
	error = CASE WHEN stories.status = 'CANCELLED' THEN NULL ELSE v.column7 END,
	model = v.column8, updated_at = $1, finished_at = $1, lease_owner = NULL, lease_expires_at = NULL,
	prompt_tokens = COALESCE(v.column9, stories.prompt_tokens), completion_tokens = COALESCE(v.column10, stories.completion_tokens),
	reserved_tokens = 0`,
		[]any{now}, group, []string{"TEXT", "TEXT", "TEXT", "BIGINT", "BIGINT"}, func(w *write) []any {
			var msg sql.NullString
			if w.end.errMsg != nil {
				msg = sql.NullString{String: *w.end.errMsg, Valid: true}
			}
			var prompt, completion sql.NullInt64
			if u := w.end.usage; u != nil {
				prompt = sql.NullInt64{Int64: int64(u.basePrompt + u.promptTokens), Valid: true}
				completion = sql.NullInt64{Int64: int64(u.baseCompletion + u.completion), Valid: true}
			}
			return []any{w.end.status.String(), msg, w.end.model, prompt, completion}
		})
}

// groupSQL builds a grouped write: UPDATE stories SET set FROM a VALUES row
// per write — its story ID, text, token count, offset and owner (columns 1
// to 5), then the values extra returns, of the types in extraTypes —
// matching each story at its offset while its owner holds the lease, and
// returning the id and status of every story it changed. args are the
// parameters set names first ($1...). VALUES names its columns column1,
// column2... in Postgres and SQLite alike; parameters appear in order,
// since SQLite numbers $N parameters by first appearance.
func groupSQL(set string, args []any, group []*write, extraTypes []string, extra func(*write) []any) (string, []any) {
	types := append([]string{"TEXT", "TEXT", "BIGINT", "BIGINT", "TEXT"}, extraTypes...)
	args = slices.Grow(args, len(types)*len(group))
	var b strings.Builder
	b.WriteString("UPDATE stories\nSET " + set + "\nFROM (VALUES ")
	for i, w := range group {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j, typ := range types {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "CAST($%d AS %s)", len(args)+j+1, typ)
		}
		b.WriteByte(')')
		args = append(append(args, string(w.id), w.delta, w.tokens, w.offset, w.owner), extra(w)...)
	}
	b.WriteString(`) AS v
WHERE stories.id = v.column1 AND stories.text_length = v.column4 AND stories.lease_owner = v.column5
RETURNING stories.id, stories.status`)
	return b.String(), args
}

const rowStateSQL = `SELECT status, lease_owner, text_length FROM stories WHERE id = $1`

// settle explains a lease-guarded write that matched no row: either an
// earlier attempt of the same write did commit (its answer was lost), and
// the row already holds want bytes, or the lease is gone.
func settle(ctx context.Context, q querier, id pulid.ID, owner string, want int, ending bool) (entstory.Status, error) {
	var (
		status entstory.Status
		holder sql.NullString
		length int
	)
	rows, err := q.QueryContext(ctx, rowStateSQL, string(id))
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

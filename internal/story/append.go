package story

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/internal/pulid"
)

// A replica running many stories appends the text of all of them every
// FlushInterval. One statement per story would queue a thousand flush loops
// on the connection pool, so appends are committed in groups: each waits in
// a queue, and up to maxAppendsInFlight writers, started on demand, take
// everything queued at once and write it in one statement. Alone, an append
// is written at once; under load, the appends that arrive while one
// statement runs go together in the next.

// Group commit limits: statements running at once, and stories per statement
// (each takes five parameters; SQLite allows 32,766 and Postgres 65,535).
const (
	maxAppendsInFlight = 2
	maxAppendBatch     = 500
)

// appendWriteTimeout bounds one group's statement.
const appendWriteTimeout = 5 * time.Second

// appendReq is one story's append.
type appendReq struct {
	id     pulid.ID
	owner  string
	offset int // byte length of the text stored so far, where delta goes
	delta  string
	tokens int

	// Set by the writer before done is closed.
	status entstory.Status
	err    error
	done   chan struct{}
}

// appender queues appends for its writers; the zero value is ready.
type appender struct {
	mu      sync.Mutex
	queue   []*appendReq
	writers int
}

// appendText appends delta, at byte offset, to a story that owner leases,
// sets its token count and extends its lease. It returns the story's
// status, which tells the owner whether another replica cancelled it;
// errLeaseLost when owner no longer holds it. An append, once queued, is
// carried out whatever happens to ctx, so that the caller always learns
// whether its text was stored.
func (s *Service) appendText(ctx context.Context, id pulid.ID, owner string, offset int, delta string, tokens int) (entstory.Status, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	req := &appendReq{id: id, owner: owner, offset: offset, delta: delta, tokens: tokens, done: make(chan struct{})}
	a := &s.appends
	a.mu.Lock()
	a.queue = append(a.queue, req)
	if a.writers < maxAppendsInFlight {
		a.writers++
		go s.writeQueuedAppends()
	}
	a.mu.Unlock()
	<-req.done
	return req.status, req.err
}

// writeQueuedAppends writes the queue in groups until it is empty.
func (s *Service) writeQueuedAppends() {
	a := &s.appends
	for {
		a.mu.Lock()
		n := min(len(a.queue), maxAppendBatch)
		if n == 0 {
			a.writers--
			a.mu.Unlock()
			return
		}
		group := a.queue[:n:n]
		a.queue = a.queue[n:]
		a.mu.Unlock()
		s.writeAppends(group)
		for _, req := range group {
			close(req.done)
		}
	}
}

// writeAppends writes a group of appends in one statement, then explains
// those that matched no row one by one (see settle).
func (s *Service) writeAppends(group []*appendReq) {
	ctx, cancel := context.WithTimeout(s.base, appendWriteTimeout)
	defer cancel()
	now := time.Now().UTC()
	query, args := appendGroupSQL(group, now, now.Add(s.cfg.LeaseDuration))
	rows, err := s.client.QueryContext(ctx, query, args...)
	if err != nil {
		for _, req := range group {
			req.err = err
		}
		return
	}
	byID := make(map[pulid.ID]*appendReq, len(group))
	for _, req := range group {
		byID[req.id] = req
	}
	for rows.Next() {
		var (
			id     pulid.ID
			status entstory.Status
		)
		if err = rows.Scan(&id, &status); err != nil {
			break
		}
		if req := byID[id]; req != nil {
			req.status = status
		}
	}
	if err == nil {
		err = rows.Err()
	}
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	for _, req := range group {
		switch {
		case err != nil:
			req.err = err
		case req.status == "":
			req.status, req.err = s.settle(ctx, req.id, req.owner, req.offset+len(req.delta), false)
		}
	}
}

// appendGroupSQL builds the statement that appends a group's text, each
// story's at its offset and only while its owner holds the lease, and
// returns the id and status of every story it changed. It is the same for
// Postgres and SQLite: VALUES names its columns column1, column2... in
// both, and parameters appear in order (SQLite numbers them so).
func appendGroupSQL(group []*appendReq, now, leaseUntil time.Time) (string, []any) {
	var b strings.Builder
	args := make([]any, 0, 2+5*len(group))
	args = append(args, now, leaseUntil)
	b.WriteString(`UPDATE stories
SET text = stories.text || v.column2, token_count = v.column3, updated_at = $1, lease_expires_at = $2
FROM (VALUES `)
	for i, req := range group {
		if i > 0 {
			b.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&b, "(CAST($%d AS TEXT), CAST($%d AS TEXT), CAST($%d AS BIGINT), CAST($%d AS BIGINT), CAST($%d AS TEXT))", n+1, n+2, n+3, n+4, n+5)
		args = append(args, string(req.id), req.delta, req.tokens, req.offset, req.owner)
	}
	b.WriteString(`) AS v
WHERE stories.id = v.column1 AND octet_length(stories.text) = v.column4 AND stories.lease_owner = v.column5
RETURNING stories.id, stories.status`)
	return b.String(), args
}

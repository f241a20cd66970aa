package story

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/storybot/storybot/ent/predicate"
	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/internal/telemetry"
)

// On Postgres, a replica says it is alive by holding an advisory lock,
// keyed by its Owner, on a connection of its own for as long as it runs.
// When the process dies, its connection closes and Postgres releases the
// lock at once, so the other replicas' sweepers see that the owner of a
// lease is gone within a sweep, rather than waiting for the lease to run
// out. The lease stays the rule for what the lock cannot tell: a replica
// that is alive but cut off from the database, or a store without
// advisory locks (SQLite, where one process is all replicas).

// presenceClass is the first key of presence locks ("stbr"); the second is
// hashtext(owner).
const presenceClass = 0x73746272

// presenceGrace is how long after a lease was granted or renewed its owner
// may still be taking its presence lock (a replica that just started).
const presenceGrace = 2 * time.Second

// holdPresence holds this replica's presence lock until ctx ends, taking
// it again on a new connection when its connection breaks.
func (s *Service) holdPresence(ctx context.Context) {
	for {
		err := s.presentOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		s.log.WarnContext(ctx, "lost the presence lock; taking it again", telemetry.Error(err))
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return
		}
	}
}

// presentOnce takes the presence lock on a connection of the pool and
// keeps the connection, checking it every sweep, until ctx ends or it
// breaks.
func (s *Service) presentOnce(ctx context.Context) error {
	conn, err := s.cfg.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() {
		// Give the lock up before the connection goes back to the pool.
		release, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_, _ = conn.ExecContext(release, `SELECT pg_advisory_unlock($1, hashtext($2))`, presenceClass, s.cfg.Owner)
		conn.Close()
	}()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1, hashtext($2))`, presenceClass, s.cfg.Owner); err != nil {
		return err
	}
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := conn.PingContext(ctx); err != nil {
				return err
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// ownerGone matches the stories whose lease owner is another replica that
// holds no presence lock on this database, and whose lease was granted or
// renewed more than presenceGrace before now.
func (s *Service) ownerGone(now time.Time) predicate.Story {
	renewedBefore := now.Add(s.cfg.LeaseDuration - presenceGrace)
	return func(sel *entsql.Selector) {
		owner := sel.C(entstory.FieldLeaseOwner)
		sel.Where(entsql.And(
			entsql.NEQ(owner, s.cfg.Owner),
			entsql.LT(sel.C(entstory.FieldLeaseExpiresAt), renewedBefore),
			entsql.P(func(b *entsql.Builder) {
				b.WriteString(fmt.Sprintf(`NOT EXISTS (SELECT 1 FROM pg_locks l
WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %d AND l.objsubid = 2
AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
AND l.objid::bigint = (hashtext(%s)::bigint & 4294967295))`, presenceClass, owner))
			}),
		))
	}
}

// presence reports whether the service tells live replicas by their
// presence locks.
func (s *Service) presence() bool { return s.cfg.DB != nil && s.cfg.Dialect == dialect.Postgres }

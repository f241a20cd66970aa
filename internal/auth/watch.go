package auth

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"sync"
	"time"

	"github.com/storybot/storybot/ent"
	"github.com/storybot/storybot/ent/apitoken"
	"github.com/storybot/storybot/ent/session"
	"github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/telemetry"
	"github.com/storybot/storybot/internal/viewer"
)

// DefaultWatchInterval is how often Watcher checks the credentials of open
// sockets and share-link streams: a revoked one ends within this time plus
// a query's.
const DefaultWatchInterval = 30 * time.Second

// Watcher ends what outlives its credentials: a websocket whose session or
// API token is revoked or expires, a stream of a story that is unshared.
// Every interval it checks all that it watches in a few queries, whatever
// their number, on every replica alike (revocations are in the database).
type Watcher struct {
	client   *ent.Client
	interval time.Duration
	idle     time.Duration // a session unused this long has ended
	log      *slog.Logger
	now      func() time.Time

	mu      sync.Mutex
	watches map[*watch]struct{}
}

type watch struct {
	v          *viewer.Viewer // nil for a share link
	story      pulid.ID
	shareToken string
	end        func()
}

// NewWatcher returns a Watcher of a's credentials, checking every interval
// (DefaultWatchInterval when zero). Start it with Run.
func (a *Accounts) NewWatcher(interval time.Duration) *Watcher {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	return &Watcher{
		client: a.client, interval: interval, idle: a.cfg.SessionIdle, log: a.log,
		now: a.now, watches: map[*watch]struct{}{},
	}
}

// Watch calls end (once) when v's credential stops being valid; the
// returned func stops watching.
func (w *Watcher) Watch(v *viewer.Viewer, end func()) (stop func()) {
	return w.add(&watch{v: v, end: end})
}

// WatchShare calls end (once) when story is no longer shared with token.
func (w *Watcher) WatchShare(storyID pulid.ID, token string, end func()) (stop func()) {
	return w.add(&watch{story: storyID, shareToken: token, end: end})
}

func (w *Watcher) add(x *watch) func() {
	w.mu.Lock()
	w.watches[x] = struct{}{}
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		delete(w.watches, x)
		w.mu.Unlock()
	}
}

// Run checks every interval until ctx is done.
func (w *Watcher) Run(ctx context.Context) {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := w.check(ctx); err != nil && ctx.Err() == nil {
				w.log.WarnContext(ctx, "checking the credentials of open streams failed", telemetry.Error(err))
			}
		case <-ctx.Done():
			return
		}
	}
}

// check ends every watch whose credential is no longer valid.
func (w *Watcher) check(ctx context.Context) error {
	w.mu.Lock()
	all := make([]*watch, 0, len(w.watches))
	for x := range w.watches {
		all = append(all, x)
	}
	w.mu.Unlock()
	if len(all) == 0 {
		return nil
	}
	now := w.now()
	var sessions, tokens, stories []pulid.ID
	for _, x := range all {
		switch {
		case x.v == nil:
			stories = append(stories, x.story)
		case x.v.Method == viewer.MethodSession:
			sessions = append(sessions, pulid.ID(x.v.CredentialID))
		case x.v.Method == viewer.MethodAPIToken:
			tokens = append(tokens, pulid.ID(x.v.CredentialID))
		}
	}
	sys := viewer.System(ctx)
	live := map[pulid.ID]bool{}
	for _, chunk := range chunks(sessions) {
		rows, err := w.client.Session.Query().
			Where(session.IDIn(chunk...), session.RevokedAtIsNil(), session.ExpiresAtGT(now), session.LastSeenAtGT(now.Add(-w.idle))).
			Select(session.FieldID).Strings(sys)
		if err != nil {
			return err
		}
		for _, id := range rows {
			live[pulid.ID(id)] = true
		}
	}
	for _, chunk := range chunks(tokens) {
		rows, err := w.client.APIToken.Query().
			Where(apitoken.IDIn(chunk...), apitoken.RevokedAtIsNil(),
				apitoken.Or(apitoken.ExpiresAtIsNil(), apitoken.ExpiresAtGT(now))).
			Select(apitoken.FieldID).Strings(sys)
		if err != nil {
			return err
		}
		for _, id := range rows {
			live[pulid.ID(id)] = true
		}
	}
	shared := map[pulid.ID]string{}
	for _, chunk := range chunks(stories) {
		rows, err := w.client.Story.Query().Where(story.IDIn(chunk...), story.ShareTokenNotNil()).
			Select(story.FieldID, story.FieldShareToken).All(sys)
		if err != nil {
			return err
		}
		for _, st := range rows {
			shared[st.ID] = *st.ShareToken
		}
	}
	for _, x := range all {
		var ok bool
		switch {
		case x.v == nil:
			ok = subtle.ConstantTimeCompare([]byte(shared[x.story]), []byte(x.shareToken)) == 1
		case !x.v.Expiry.IsZero() && !now.Before(x.v.Expiry):
			ok = false
		case x.v.Method == viewer.MethodOIDC:
			ok = true // only its expiry ends it
		default:
			ok = live[pulid.ID(x.v.CredentialID)]
		}
		if ok {
			continue
		}
		w.mu.Lock()
		_, watched := w.watches[x]
		delete(w.watches, x)
		w.mu.Unlock()
		if watched {
			x.end()
		}
	}
	return nil
}

// chunks splits ids into groups small enough for one IN list.
func chunks(ids []pulid.ID) [][]pulid.ID {
	const size = 1000
	var out [][]pulid.ID
	for len(ids) > 0 {
		n := min(len(ids), size)
		out = append(out, ids[:n])
		ids = ids[n:]
	}
	return out
}

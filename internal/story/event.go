package story

import (
	"context"
	"time"

	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/internal/pulid"
)

// Event is one message of a story stream: GraphQL's StoryEvent.
type Event struct {
	StoryID pulid.ID `json:"storyID"`
	// Seq numbers the events of one subscription: 1, 2, 3...
	Seq int `json:"seq"`
	// Delta is the text that follows everything sent before; the first
	// event's Delta is all the text generated so far.
	Delta      string          `json:"delta"`
	Status     entstory.Status `json:"status"`
	TokenCount int             `json:"tokenCount"`
	Error      *string         `json:"error"`
}

// follow streams v to out until the story ends (after the terminal event),
// ctx is done or stopped is closed, then closes out. It sends an event whenever there is new text
// or a new status; whatever arrives while a send waits goes, merged, into
// the next event.
func follow(ctx context.Context, stopped <-chan struct{}, id pulid.ID, v *view, out chan<- *Event, done func()) {
	defer close(out)
	defer done()
	var (
		sent   int
		status entstory.Status
		seq    int
	)
	for {
		s := v.snapshot()
		if seq == 0 || len(s.text) > sent || s.status != status {
			seq++
			ev := &Event{
				StoryID: id, Seq: seq, Delta: s.text[sent:],
				Status: s.status, TokenCount: s.tokens, Error: s.errMsg,
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			case <-stopped:
				// Shutting down: a reader that is still there gets what is
				// new, merged into one event (the end, for a story that ran
				// here), but one that stopped reading does not hold shutdown
				// up.
				s = v.snapshot()
				ev.Delta, ev.Status, ev.TokenCount, ev.Error = s.text[sent:], s.status, s.tokens, s.errMsg
				select {
				case out <- ev:
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
				return
			}
			sent, status = len(s.text), s.status
			if isTerminal(s.status) {
				return
			}
			continue // more may have arrived while sending
		}
		select {
		case <-s.changed:
		case <-ctx.Done():
			return
		case <-stopped:
			return
		}
	}
}

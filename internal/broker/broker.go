// Package broker carries story events between the replicas that share a
// store: the replica that generates a story publishes each committed batch of
// its text, and every replica delivers it to the local subscribers of that
// story.
//
// Two brokers implement [Broker]: [Memory] for a single replica, and
// [Postgres], which carries events over PostgreSQL's LISTEN/NOTIFY with one
// listening connection per replica.
//
// Both deliver the same way. Publishing never waits for subscribers: each
// [Subscription] has a bounded buffer, and an event that does not fit is
// dropped and replaced by one coalesced event with Resync set, which tells the
// subscriber to reload the story from the store. Events of one story reach
// every subscriber in the order they were published, each carrying the byte
// offset where its text starts, so a subscriber keeps its copy of the text
// exact with one rule: skip what it already has, and reload from the store on
// a gap or a Resync.
package broker

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Event is one published change of a story.
type Event struct {
	StoryID    string // opaque story ID (a short string such as "st_01J...")
	Offset     int    // byte offset in the story's text where Delta starts
	Delta      string // text appended at Offset (may be empty: status-only event)
	Status     string // the story's status after this event: PENDING GENERATING COMPLETED FAILED CANCELLED
	TokenCount int    // the story's token count after this event
	Error      string // set with FAILED
	Resync     bool   // set only on events the broker makes itself: events for this story may have been lost; reload from the store
	// Traceparent is the W3C traceparent of the story's run when its span
	// is recorded, so that a replica following the story continues the
	// trace; empty otherwise.
	Traceparent string
}

// Broker carries story events between the replicas that share a store.
type Broker interface {
	// Publish sends ev to every subscriber of ev.StoryID, on this replica
	// and on the others. It returns once the event has been handed on; it
	// never waits for subscribers.
	Publish(ctx context.Context, ev Event) error

	// Subscribe returns a subscription to the events of one story published
	// from now on. The caller must Close it.
	Subscribe(storyID string) *Subscription

	// Close stops the broker and closes every subscription.
	Close() error
}

// Errors returned by the brokers; test for them with [errors.Is].
var (
	// ErrClosed is returned by Publish after Close.
	ErrClosed = errors.New("broker closed")

	// ErrInvalidEvent is wrapped by Publish's error for an event that
	// cannot be published, such as one without a story ID, with text that
	// is not valid UTF-8, or with Resync set.
	ErrInvalidEvent = errors.New("invalid broker event")
)

// maxStoryIDLen bounds a story ID, so that an event's fixed fields always
// leave most of a notification's payload for its text.
const maxStoryIDLen = 256

// maxStatusLen bounds a status for the same reason; the real ones are short
// words.
const maxStatusLen = 32

// Story statuses after which no more events of the story follow.
const (
	statusGenerating = "GENERATING"
	statusCompleted  = "COMPLETED"
	statusFailed     = "FAILED"
	statusCancelled  = "CANCELLED"
)

// isTerminal reports whether status ends a story.
func isTerminal(status string) bool {
	switch status {
	case statusCompleted, statusFailed, statusCancelled:
		return true
	}
	return false
}

// validate checks what both brokers require of a published event.
func validate(ev Event) error {
	switch {
	case ev.StoryID == "":
		return fmt.Errorf("%w: no story ID", ErrInvalidEvent)
	case len(ev.StoryID) > maxStoryIDLen:
		return fmt.Errorf("%w: story ID longer than %d bytes", ErrInvalidEvent, maxStoryIDLen)
	case len(ev.Status) > maxStatusLen:
		return fmt.Errorf("%w: status longer than %d bytes", ErrInvalidEvent, maxStatusLen)
	case ev.Offset < 0:
		return fmt.Errorf("%w: negative offset %d", ErrInvalidEvent, ev.Offset)
	case ev.Resync:
		return fmt.Errorf("%w: Resync is set by the broker, not by publishers", ErrInvalidEvent)
	case !utf8.ValidString(ev.StoryID), !utf8.ValidString(ev.Delta), !utf8.ValidString(ev.Status), !utf8.ValidString(ev.Error):
		return fmt.Errorf("%w: text is not valid UTF-8", ErrInvalidEvent)
	}
	return nil
}

// Package story owns the life of a story: starting its generation, writing
// its text to the store in batches, holding and renewing the lease that says
// which replica generates it, cancelling it, failing stories whose replica
// died, and streaming it to subscribers on any replica.
//
// The path of one token: the Generator emits it into the run's view (the
// story's text in memory on the generating replica), which wakes that
// replica's subscribers at once. Every FlushInterval the run stores what is
// new as one piece of the story's text log (story_pieces: the story, the
// piece's byte offset, its text) and, once that is committed, publishes it
// through the Broker with its offset. Stored text is never rewritten while
// a story runs; its end folds the pieces into the story's row (store.go).
// Other replicas keep one view per followed story, fed by those events; a
// gap or a broker Resync is filled from the log by offset, reading only
// what the view lacks (text.go). One fan-out goroutine per
// view offers each local subscriber what is new; a subscriber only keeps how
// much of the text it has been sent, so a slow one gets what it missed
// merged into its next event, with no queue to grow and no goroutine of its
// own.
package story

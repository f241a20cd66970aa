// Package llm provides the story generators: [OpenAI], a streaming client
// for any model server that speaks OpenAI's Chat Completions API, and
// [Storyteller], a built-in offline generator for when no server is
// configured.
//
// Every generator streams text through a callback rather than a channel, so
// a generation has no goroutine of its own: the caller owns the loop, and
// when Generate returns, nothing more is emitted. Failures are reported
// with the sentinel errors of this package (ErrUnavailable, ErrTimeout,
// ErrProvider, ErrRateLimited), or with the context's error when the
// caller stopped the generation; their messages are fit to show to a user.
package llm

import (
	"context"

	"github.com/storybot/storybot/internal/storyopt"
)

// Request describes one story to generate, or more of one.
type Request struct {
	Prompt  string           // the user's story prompt
	Options storyopt.Options // how the story is personalised
	// Story is the text so far of a story being continued: the generator
	// writes what comes next. "" for a new story.
	Story string
	// Instruction says what should happen next in a continuation; "" for
	// none.
	Instruction string
	MaxTokens   int      // 0 = the generator's default
	Temperature *float64 // nil = the generator's default
	Model       string   // "" = the generator's configured model
	Seed        int64    // makes deterministic generators repeatable
	TraceID     string   // sent to model servers as the X-Trace-Id header when non-empty
}

// Result is how a generation ended.
type Result struct {
	Model            string // the model that produced the text
	FinishReason     string // "stop", "length", ... as the server reported it
	PromptTokens     int    // usage, when the server reported it, else 0
	CompletionTokens int
}

// Finish reasons reported in [Result.FinishReason] by the generators of this
// package. Model servers may report others, such as "content_filter".
const (
	FinishStop   = "stop"   // the story came to its natural end
	FinishLength = "length" // the story was cut at the token limit
)

// Generator streams a story.
type Generator interface {
	// Generate calls emit with each piece of text, in order, from the calling goroutine, never after it returns.
	// emit must be quick. On failure it returns the error (text already emitted stays valid).
	Generate(ctx context.Context, req Request, emit func(delta string)) (Result, error)
}

// Titler gives stories titles.
type Titler interface {
	// Title returns a short title for story, the text written for req
	// (req.Story is not used), and what asking for it used.
	Title(ctx context.Context, req Request, story string) (string, Result, error)
}

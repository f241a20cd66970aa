package llm

import (
	"cmp"
	"context"
	"time"
)

// Defaults of [Storyteller], as NewStoryteller sets them.
const (
	// DefaultStorytellerModel is the name reported in Result.Model.
	DefaultStorytellerModel = "storyteller"
	// DefaultStorytellerMaxTokens is above the length of any story the
	// storyteller writes, so that by default a story ends with "stop".
	DefaultStorytellerMaxTokens = 400
	// DefaultTokensPerSecond is about the pace of a model server.
	DefaultTokensPerSecond = 25
)

// Storyteller is the built-in offline generator, used when no model server
// is configured. It is not a language model: it writes a story from a fixed
// grammar of sentences, casting the noun phrases and words of the prompt,
// in any language or script, into it. The same prompt and seed always give
// the same story; its text is streamed one word at a time, at a pace like
// that of a model server.
//
// The zero value works, with no pacing. A Storyteller is safe for
// concurrent use as long as its fields are not changed meanwhile.
type Storyteller struct {
	// Model is reported in Result.Model; "" reports DefaultStorytellerModel.
	// Request.Model is ignored: there is only one storyteller.
	Model string
	// MaxTokens bounds a story when a request does not; 0 or less means
	// DefaultStorytellerMaxTokens. A story runs to about 200 to 300 words,
	// each a token.
	MaxTokens int
	// TokensPerSecond paces the stream; 0 or less emits without delay.
	TokensPerSecond float64
}

var (
	_ Generator = (*Storyteller)(nil)
	_ Titler    = (*Storyteller)(nil)
)

// NewStoryteller returns a storyteller with the default model name, token
// limit and pace.
func NewStoryteller() *Storyteller {
	return &Storyteller{
		Model:           DefaultStorytellerModel,
		MaxTokens:       DefaultStorytellerMaxTokens,
		TokensPerSecond: DefaultTokensPerSecond,
	}
}

// Story returns the whole story that Generate streams for prompt and seed
// when no token limit cuts it.
func (s *Storyteller) Story(prompt string, seed int64) string {
	return composeStory(prompt, seed)
}

// Generate streams the story for req.Prompt, req.Seed and req.Options (its
// length and audience), or its continuation when req.Story is set, one word
// (with the white space before it) per call of emit. It reports
// FinishReason "stop" when the story ends and "length" when the token limit
// cuts it, and counts the prompt's words as its prompt tokens.
// Request.Temperature, Request.Instruction and Request.TraceID, and the
// genre, tone and language options, do not apply to it.
func (s *Storyteller) Generate(ctx context.Context, req Request, emit func(delta string)) (Result, error) {
	res := Result{
		Model:        cmp.Or(s.Model, DefaultStorytellerModel),
		FinishReason: FinishStop,
		PromptTokens: analyzePrompt(req.Prompt).count,
	}
	if ctx.Err() != nil {
		return res, canceled(ctx)
	}
	tokens := splitTokens(tell(req.Prompt, req.Seed, req.Options, req.Story))
	if limit := cmp.Or(max(req.MaxTokens, 0), max(s.MaxTokens, 0), DefaultStorytellerMaxTokens); len(tokens) > limit {
		tokens = tokens[:limit]
		res.FinishReason = FinishLength
	}

	var interval time.Duration
	if s.TokensPerSecond > 0 {
		interval = time.Duration(float64(time.Second) / s.TokensPerSecond)
	}
	var timer *time.Timer
	start := time.Now()
	for i, tok := range tokens {
		// Each token is due at a fixed time from the start, so time spent
		// in emit does not slow the pace.
		if wait := time.Until(start.Add(time.Duration(i) * interval)); interval > 0 && wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
				defer timer.Stop()
			} else {
				timer.Reset(wait)
			}
			select {
			case <-ctx.Done():
				return res, canceled(ctx)
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			return res, canceled(ctx)
		}
		if emit != nil {
			emit(tok)
		}
		res.CompletionTokens++
	}
	return res, nil
}

// Title names the story of req after its hero and the first noun of its
// prompt ("Mira and the lighthouse keeper"), as its cast is drawn from
// req.Prompt and req.Seed; it uses no tokens.
func (s *Storyteller) Title(ctx context.Context, req Request, _ string) (string, Result, error) {
	res := Result{Model: cmp.Or(s.Model, DefaultStorytellerModel), FinishReason: FinishStop}
	if ctx.Err() != nil {
		return "", res, canceled(ctx)
	}
	return title(req.Prompt, req.Seed), res, nil
}

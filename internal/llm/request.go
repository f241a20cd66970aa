package llm

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/openai/openai-go/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/storybot/storybot/internal/storyopt"
)

// What a model server is asked, built from a Request by [OpenAI.params]:
//
//   - the system message: the configured storytelling instruction, then one
//     sentence per story option (audience, genre, tone, length, language);
//     the language is named in English and in itself ("Chinese (Taiwan),
//     中文 (台灣)"), with its script when its language is written in
//     several (Traditional Chinese);
//   - the user's prompt;
//   - for a continuation, the story so far as the model's own answer, and a
//     user message asking it to go on (with the instruction, if any). When
//     the story is longer than the context allows (ContextTokens, less the
//     tokens to write and the rest of the request), only its end is sent,
//     from a word boundary, after "…".

// Defaults of the context rule.
const (
	// DefaultContextTokens is the context window assumed of a model: that
	// of small local models.
	DefaultContextTokens = 8192
	// minStoryContextTokens is the least of a story sent back to be
	// continued, however small the context.
	minStoryContextTokens = 256
	// messageOverheadTokens covers the tokens each message costs besides
	// its text.
	messageOverheadTokens = 8
)

// continueMessage asks the model to go on with the story.
const continueMessage = "Continue the story from exactly where it stops, in the same language and style. " +
	"Write only the new text: do not repeat or summarise what came before."

// titleSystemMessage asks for a title and nothing else.
const titleSystemMessage = "You give stories short titles. Answer with the title alone: at most eight words, " +
	"no quotation marks, no full stop, in the language the story is written in."

// titleMaxTokens bounds the answer to a title request.
const titleMaxTokens = 32

// titleStoryTokens is the most of a story sent for its title: its start.
const titleStoryTokens = 1500

// systemMessage is base followed by what the options ask for.
func systemMessage(base string, o storyopt.Options) string {
	var b strings.Builder
	b.WriteString(base)
	add := func(format string, args ...any) {
		b.WriteByte(' ')
		fmt.Fprintf(&b, format, args...)
	}
	if o.Audience != nil {
		switch *o.Audience {
		case storyopt.AudienceChildren:
			add("Write for young children: simple words, short sentences, nothing frightening or violent, a kind ending.")
		case storyopt.AudienceTeens:
			add("Write for teenagers.")
		case storyopt.AudienceAdults:
			add("Write for adult readers.")
		}
	}
	if o.Genre != nil {
		add("Genre: %s.", *o.Genre)
	}
	if o.Tone != nil {
		add("Tone: %s.", *o.Tone)
	}
	if o.Length != nil {
		switch *o.Length {
		case storyopt.LengthShort:
			add("Keep it short: about 150 words.")
		case storyopt.LengthMedium:
			add("Make it about 400 words long.")
		case storyopt.LengthLong:
			add("Make it long: about 800 words.")
		}
	}
	if tag, ok := o.Tag(); ok {
		add("Write the story in %s.", LanguageName(tag))
	}
	return b.String()
}

// LanguageName names a language for a model: in English, then in itself,
// with its script when its language is written in several, and its tag:
// "Chinese (Taiwan), 中文 (台灣), in Traditional Chinese script (zh-TW)".
func LanguageName(tag language.Tag) string {
	name := display.English.Tags().Name(tag)
	if self := display.Self.Name(tag); self != "" && self != name {
		name += ", " + self
	}
	base, _ := tag.Base()
	script, conf := tag.Script()
	baseScript, _ := language.Make(base.String()).Script()
	if conf != language.No && (script != baseScript || hasExplicitScript(tag)) {
		if s := display.English.Scripts().Name(script); s != "" {
			name += ", in " + s + " script"
		}
	}
	return name + " (" + tag.String() + ")"
}

func hasExplicitScript(tag language.Tag) bool {
	_, conf := tag.Script()
	return conf == language.Exact
}

// estimateTokens estimates the tokens of s as models count them: about four
// ASCII characters, or one other character, a token.
func estimateTokens(s string) int {
	ascii, other := 0, 0
	for _, r := range s {
		if r < utf8.RuneSelf {
			ascii++
		} else {
			other++
		}
	}
	return (ascii+3)/4 + other
}

// storyTail returns the end of story that fits in budget tokens: all of
// it when it fits, else its last part, from a word boundary, after "…".
func storyTail(story string, budget int) string {
	if estimateTokens(story) <= budget {
		return story
	}
	// Walk back from the end, a rune at a time, until the budget is spent.
	quarter := 0 // ASCII characters count a quarter token each
	cut := len(story)
	for cut > 0 {
		r, n := utf8.DecodeLastRuneInString(story[:cut])
		cost := 4
		if r < utf8.RuneSelf {
			cost = 1
		}
		if quarter+cost > 4*budget {
			break
		}
		quarter += cost
		cut -= n
	}
	tail := story[cut:]
	// Start at the next word (or, for scripts without spaces, anywhere).
	if i := strings.IndexFunc(tail, unicode.IsSpace); i >= 0 && i < 64 {
		tail = strings.TrimLeftFunc(tail[i:], unicode.IsSpace)
	}
	return "…" + tail
}

// storyHead returns the start of story that fits in budget tokens.
func storyHead(story string, budget int) string {
	if estimateTokens(story) <= budget {
		return story
	}
	quarter, end := 0, 0
	for end < len(story) {
		r, n := utf8.DecodeRuneInString(story[end:])
		cost := 4
		if r < utf8.RuneSelf {
			cost = 1
		}
		if quarter+cost > 4*budget {
			break
		}
		quarter += cost
		end += n
	}
	return story[:end] + "…"
}

// messages builds the chat of req: see the top of this file. limit is the
// most tokens the answer may have.
func (o *OpenAI) messages(req Request, limit int) []openai.ChatCompletionMessageParamUnion {
	system := systemMessage(o.cfg.SystemPrompt, req.Options)
	msgs := []openai.ChatCompletionMessageParamUnion{
		openai.SystemMessage(system),
		openai.UserMessage(req.Prompt),
	}
	if req.Story == "" {
		return msgs
	}
	next := continueMessage
	if req.Instruction != "" {
		next += " What should happen next: " + req.Instruction
	}
	used := estimateTokens(system) + estimateTokens(req.Prompt) + estimateTokens(next) + 4*messageOverheadTokens
	budget := max(o.cfg.ContextTokens-max(limit, 0)-used, minStoryContextTokens)
	return append(msgs,
		openai.AssistantMessage(storyTail(req.Story, budget)),
		openai.UserMessage(next))
}

// titleParams builds the request for a title of story, written for req,
// and estimates its prompt's tokens.
func (o *OpenAI) titleParams(req Request, story, model string) (openai.ChatCompletionNewParams, int) {
	system := titleSystemMessage
	if tag, ok := req.Options.Tag(); ok {
		system += " The story is in " + LanguageName(tag) + "."
	}
	user := "Prompt: " + req.Prompt + "\n\nStory:\n" + storyHead(story, titleStoryTokens)
	p := openai.ChatCompletionNewParams{
		Model: model,
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage(system),
			openai.UserMessage(user),
		},
	}
	o.setLimit(&p, titleMaxTokens)
	if o.cfg.StreamUsage {
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	}
	return p, estimateTokens(system) + estimateTokens(user) + 2*messageOverheadTokens
}

// setLimit bounds the answer to limit tokens, as the server expects it.
func (o *OpenAI) setLimit(p *openai.ChatCompletionNewParams, limit int) {
	if o.cfg.MaxCompletionTokens {
		p.MaxCompletionTokens = openai.Int(int64(limit))
	} else {
		p.MaxTokens = openai.Int(int64(limit))
	}
}

// cleanTitle makes a model's answer a title: one line, without quotation
// marks, a "Title:" label or a full stop, at most maxTitleRunes long.
func cleanTitle(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	s = tidy(s)
	for _, label := range []string{"Title:", "title:", "TITLE:", "標題：", "标题：", "标题:"} {
		s = strings.TrimSpace(strings.TrimPrefix(s, label))
	}
	s = strings.Trim(s, "\"'“”‘’«»「」『』*#_ ")
	s = strings.TrimRight(s, ".。")
	return truncateRunes(s, maxTitleRunes)
}

// maxTitleRunes caps a title.
const maxTitleRunes = 100

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// TitleFromText derives a title from a story's text, for generators that
// cannot ask for one: its first sentence, or its first words when that is
// long.
func TitleFromText(text string) string {
	text = strings.TrimSpace(text)
	if i := strings.IndexAny(text, ".!?。！？\n"); i >= 0 {
		text = text[:i]
	}
	words := strings.Fields(text)
	if len(words) > 8 {
		return strings.Join(words[:8], " ") + "…"
	}
	return truncateRunes(strings.Join(words, " "), 40)
}

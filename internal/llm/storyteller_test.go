package llm

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// generateAll runs a storyteller without pacing and returns its deltas.
func generateAll(t *testing.T, s *Storyteller, req Request) ([]string, Result) {
	t.Helper()
	var got collect
	res, err := s.Generate(t.Context(), req, got.emit)
	if err != nil {
		t.Fatalf("Generate(%q): %v", req.Prompt, err)
	}
	return got.deltas, res
}

// prompts of every kind a user may send.
var storyPrompts = map[string]string{
	"english":          "Write a story about a lighthouse keeper who befriends a whale",
	"no determiners":   "dragons baking bread",
	"emoji":            "🐉🔥👩‍🚀",
	"punctuation only": "?!... ---",
	"empty":            "",
	"white space":      " \n\t ",
	"russian":          "Дракон и маленькая принцесса",
	"chinese":          "一只龙在城市里学习做面包",
	"arabic":           "قصة عن تنين صغير",
	"mixed":            "the red 🐉 of Paris and my grandmother's secret recipe!",
	"long":             strings.Repeat("A weary knight rides through the endless forest of whispering pines. ", 60),
	"one long word":    strings.Repeat("a", 4000),
	"control and bad":  "a \x00ghost\x1b[31m in the \xff\xfe machine",
	"template syntax":  "the {n1} of [a|b] and {Name}",
}

func TestStorytellerAnyPrompt(t *testing.T) {
	if n := utf8.RuneCountInString(storyPrompts["long"]); n < 4000 {
		t.Fatalf("long prompt has %d characters, want 4000 or more", n)
	}
	leftover := regexp.MustCompile(`\{[A-Za-z0-9]+\}|\[[^\]]*\|[^\]]*\]`)
	s := &Storyteller{}
	for name, prompt := range storyPrompts {
		t.Run(name, func(t *testing.T) {
			deltas, res := generateAll(t, s, Request{Prompt: prompt, Seed: 7})
			text := strings.Join(deltas, "")
			if diff := cmp.Diff(s.Story(prompt, 7), text); diff != "" {
				t.Errorf("streamed text differs from Story (-want +got):\n%s", diff)
			}
			if !utf8.ValidString(text) {
				t.Errorf("story is not valid UTF-8: %q", text)
			}
			if paragraphs := strings.Split(text, "\n\n"); len(paragraphs) != len(storyParts) {
				t.Errorf("story has %d paragraphs, want %d:\n%s", len(paragraphs), len(storyParts), text)
			}
			if !strings.HasSuffix(text, ".") {
				t.Errorf("story does not end with a full stop:\n%s", text)
			}
			if !strings.Contains(prompt, "{") && leftover.MatchString(text) {
				t.Errorf("story has unfilled template text %q:\n%s", leftover.FindString(text), text)
			}
			for i, d := range deltas {
				word := strings.TrimLeftFunc(d, unicode.IsSpace)
				if word == "" || strings.IndexFunc(word, unicode.IsSpace) >= 0 {
					t.Errorf("delta %d %q is not one word with its leading space", i, d)
				}
				if i == 0 && word != d {
					t.Errorf("first delta %q starts with white space", d)
				}
			}
			want := Result{Model: DefaultStorytellerModel, FinishReason: FinishStop,
				PromptTokens: analyzePrompt(prompt).count, CompletionTokens: len(deltas)}
			if diff := cmp.Diff(want, res); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStorytellerUsesThePrompt(t *testing.T) {
	tests := []struct {
		prompt string
		want   []string // in every story, whatever the seed
	}{
		{storyPrompts["english"], []string{"lighthouse keeper", "whale"}},
		{"a girl, her kite and the northern storm", []string{"girl", "kite", "northern storm"}},
		{storyPrompts["no determiners"], []string{"dragons", "baking"}},
		{storyPrompts["russian"], []string{"Дракон"}},
		{storyPrompts["chinese"], []string{"一只龙在城市里学习做面包"}},
		{storyPrompts["arabic"], []string{"قصة", "تنين"}},
		{storyPrompts["emoji"], []string{"“🐉🔥👩‍🚀”"}},
		{storyPrompts["punctuation only"], []string{"“?!... ---”"}},
		{storyPrompts["mixed"], []string{"red", "Paris", "grandmother's secret recipe"}},
		{storyPrompts["long"], []string{"weary knight", "endless forest"}},
	}
	s := &Storyteller{}
	for _, tt := range tests {
		for seed := range int64(20) {
			story := s.Story(tt.prompt, seed)
			for _, w := range tt.want {
				if !strings.Contains(story, w) {
					t.Errorf("story for %q, seed %d, does not contain %q:\n%s", tt.prompt, seed, w, story)
				}
			}
		}
	}
}

func TestStorytellerDeterministic(t *testing.T) {
	s := &Storyteller{}
	prompt := storyPrompts["english"]
	first, _ := generateAll(t, s, Request{Prompt: prompt, Seed: 3})
	again, _ := generateAll(t, s, Request{Prompt: prompt, Seed: 3})
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("same prompt and seed gave different stories (-first +again):\n%s", diff)
	}

	// Different seeds, or different prompts, tell different stories.
	seen := map[string]int64{}
	for seed := range int64(30) {
		story := s.Story(prompt, seed)
		if other, ok := seen[story]; ok {
			t.Errorf("seeds %d and %d gave the same story", other, seed)
		}
		seen[story] = seed
	}
	if s.Story("a cat", 1) == s.Story("a dog", 1) {
		t.Error("different prompts gave the same story")
	}
}

func TestStorytellerMaxTokens(t *testing.T) {
	prompt := storyPrompts["english"]
	full := splitTokens((&Storyteller{}).Story(prompt, 1))
	tests := []struct {
		name       string
		teller     Storyteller
		maxTokens  int
		wantTokens int
		wantFinish string
	}{
		{"request limit", Storyteller{}, 10, 10, FinishLength},
		{"request limit over the story", Storyteller{}, 10000, len(full), FinishStop},
		{"request limit equal to the story", Storyteller{}, len(full), len(full), FinishStop},
		{"configured limit", Storyteller{MaxTokens: 25}, 0, 25, FinishLength},
		{"request beats configured", Storyteller{MaxTokens: 25}, 5, 5, FinishLength},
		{"negative request means configured", Storyteller{MaxTokens: 25}, -1, 25, FinishLength},
		{"negative configured means default", Storyteller{MaxTokens: -3}, 0, len(full), FinishStop},
		{"default limit lets the story end", Storyteller{}, 0, len(full), FinishStop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deltas, res := generateAll(t, &tt.teller, Request{Prompt: prompt, Seed: 1, MaxTokens: tt.maxTokens})
			if diff := cmp.Diff(full[:tt.wantTokens], deltas); diff != "" {
				t.Errorf("deltas (-want +got):\n%s", diff)
			}
			if res.FinishReason != tt.wantFinish || res.CompletionTokens != tt.wantTokens {
				t.Errorf("result %+v, want finish %q after %d tokens", res, tt.wantFinish, tt.wantTokens)
			}
		})
	}
}

func TestStorytellerDefaultLimitFitsEveryStory(t *testing.T) {
	for name, prompt := range storyPrompts {
		for seed := range int64(50) {
			if n := len(splitTokens(composeStory(prompt, seed))); n > DefaultStorytellerMaxTokens {
				t.Errorf("%s prompt, seed %d: story has %d tokens, more than the default limit %d",
					name, seed, n, DefaultStorytellerMaxTokens)
			}
		}
	}
}

func TestStorytellerModel(t *testing.T) {
	tests := []struct {
		teller *Storyteller
		req    Request
		want   string
	}{
		{&Storyteller{}, Request{}, "storyteller"},
		{NewStoryteller(), Request{}, "storyteller"},
		{&Storyteller{Model: "bedtime"}, Request{}, "bedtime"},
		{&Storyteller{Model: "bedtime"}, Request{Model: "gpt-4o"}, "bedtime"},
	}
	for _, tt := range tests {
		_, res := generateAll(t, tt.teller, Request{Prompt: "p", MaxTokens: 1, Model: tt.req.Model})
		if res.Model != tt.want {
			t.Errorf("%+v: Model = %q, want %q", tt.teller, res.Model, tt.want)
		}
	}
}

func TestStorytellerPace(t *testing.T) {
	t.Run("zero is fast", func(t *testing.T) {
		start := time.Now()
		deltas, _ := generateAll(t, &Storyteller{TokensPerSecond: 0}, Request{Prompt: storyPrompts["english"]})
		// At the default pace this would take over ten seconds.
		if d := time.Since(start); d > time.Second {
			t.Errorf("%d tokens took %v without pacing", len(deltas), d)
		}
	})
	t.Run("paced", func(t *testing.T) {
		const tokens, perSecond = 21, 100 // 20 gaps of 10ms
		start := time.Now()
		deltas, _ := generateAll(t, &Storyteller{TokensPerSecond: perSecond}, Request{Prompt: "p", MaxTokens: tokens})
		d := time.Since(start)
		if len(deltas) != tokens {
			t.Fatalf("got %d tokens, want %d", len(deltas), tokens)
		}
		if d < 200*time.Millisecond || d > 3*time.Second {
			t.Errorf("%d tokens at %d a second took %v, want about 200ms", tokens, perSecond, d)
		}
	})
	t.Run("default", func(t *testing.T) {
		if got := NewStoryteller().TokensPerSecond; got != DefaultTokensPerSecond {
			t.Errorf("NewStoryteller().TokensPerSecond = %v, want %v", got, DefaultTokensPerSecond)
		}
	})
}

func TestStorytellerCancel(t *testing.T) {
	tests := []struct {
		name string
		pace float64
	}{
		{"paced", 20},
		{"unpaced", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var got collect
			var canceledAt time.Time
			_, err := (&Storyteller{TokensPerSecond: tt.pace}).Generate(ctx, Request{Prompt: "p"}, func(d string) {
				got.emit(d)
				if len(got.deltas) == 3 {
					cancel()
					canceledAt = time.Now()
				}
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("error %v, want context.Canceled", err)
			}
			if d := time.Since(canceledAt); d > 500*time.Millisecond {
				t.Errorf("returned %v after cancelling", d)
			}
			if len(got.deltas) != 3 {
				t.Errorf("emitted %d deltas, want 3: nothing after cancelling", len(got.deltas))
			}
		})
	}

	t.Run("before starting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := NewStoryteller().Generate(ctx, Request{Prompt: "p"}, func(string) { t.Error("emitted text") })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	})

	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := NewStoryteller().Generate(ctx, Request{Prompt: "p"}, nil)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestStoryTemplatesHaveSlots(t *testing.T) {
	c := newCasting(analyzePrompt("a dragon"), newStoryRand("", 0))
	slot := regexp.MustCompile(`\{([^}]*)\}`)
	check := func(tmpl string) {
		for _, m := range slot.FindAllStringSubmatch(tmpl, -1) {
			_, member := c.members[m[1]]
			if _, ok := c.slots[m[1]]; !ok && !member {
				t.Errorf("template %q uses unknown slot {%s}", tmpl, m[1])
			}
		}
		if strings.Count(tmpl, "[") != strings.Count(tmpl, "]") || strings.Count(tmpl, "{") != strings.Count(tmpl, "}") {
			t.Errorf("template %q has unbalanced brackets", tmpl)
		}
	}
	check(noteSentence)
	check(wordSentence)
	for _, part := range storyParts {
		if part.pick > len(part.middles) {
			t.Errorf("part picks %d of %d sentences", part.pick, len(part.middles))
		}
		for _, list := range [][]string{part.openers, part.middles, part.closers} {
			for _, tmpl := range list {
				check(tmpl)
			}
		}
	}
}

func TestAnalyzePrompt(t *testing.T) {
	tests := []struct {
		prompt  string
		phrases []string
		words   []string
	}{
		{"Write a story about a lighthouse keeper who befriends a whale",
			[]string{"lighthouse keeper", "whale"}, []string{"befriends"}},
		{"The old clockmaker's daughter, the sea, and a red-brick tower.",
			[]string{"old clockmaker's daughter", "sea", "red-brick tower"}, nil},
		{"dragons baking bread", nil, []string{"dragons", "baking", "bread"}},
		{"Дракон и маленькая принцесса", nil, []string{"Дракон", "маленькая", "принцесса"}},
		{"🐉🔥", nil, nil},
		{"a a a the the", nil, nil},
		{"Dragon dragon DRAGON", nil, []string{"Dragon"}},
	}
	for _, tt := range tests {
		got := analyzePrompt(tt.prompt)
		if diff := cmp.Diff(tt.phrases, got.phrases); diff != "" {
			t.Errorf("analyzePrompt(%q) phrases (-want +got):\n%s", tt.prompt, diff)
		}
		if diff := cmp.Diff(tt.words, got.words); diff != "" {
			t.Errorf("analyzePrompt(%q) words (-want +got):\n%s", tt.prompt, diff)
		}
	}
}

func TestSplitTokens(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"", nil},
		{"One", []string{"One"}},
		{"Once upon a time.", []string{"Once", " upon", " a", " time."}},
		{"End.\n\nNew start", []string{"End.", "\n\nNew", " start"}},
		{"“🐉” said  Ana", []string{"“🐉”", " said", "  Ana"}},
	}
	for _, tt := range tests {
		got := splitTokens(tt.text)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("splitTokens(%q) (-want +got):\n%s", tt.text, diff)
		}
		if strings.Join(got, "") != tt.text {
			t.Errorf("splitTokens(%q) does not join back to the text", tt.text)
		}
	}
}

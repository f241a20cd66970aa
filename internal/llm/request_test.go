package llm

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/go-cmp/cmp"

	"github.com/storybot/storybot/internal/storyopt"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestRequestGolden")

// TestRequestGolden pins the Chat Completions requests built from prompts
// and options (testdata/requests/*.json; go test -run TestRequestGolden
// -update rewrites them).
func TestRequestGolden(t *testing.T) {
	o, err := NewOpenAI(OpenAIConfig{BaseURL: "http://model.invalid/v1", Model: "m", ContextTokens: 600})
	if err != nil {
		t.Fatal(err)
	}
	opts := func(in storyopt.Input) storyopt.Options {
		out, err := storyopt.Options{}.With(&in)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	longStory := strings.Repeat("The keeper read every letter twice. ", 150) + "Then the lamp went out."
	cases := map[string]Request{
		"plain": {Prompt: "A lighthouse keeper who collects lost letters", MaxTokens: 100},
		"options-en": {Prompt: "A lighthouse keeper who collects lost letters", MaxTokens: 300, Seed: 7, Options: opts(storyopt.Input{
			Audience: set(storyopt.AudienceTeens), Genre: set("mystery"), Tone: set("eerie"), Length: set(storyopt.LengthShort), Language: set("en-GB"),
		})},
		"options-zh-TW": {Prompt: "一位收集遺失信件的燈塔看守人", Options: opts(storyopt.Input{
			Audience: set(storyopt.AudienceChildren), Genre: set("童話"), Length: set(storyopt.LengthLong), Language: set("zh-tw"),
		})},
		"options-ar": {Prompt: "حارس منارة", Options: opts(storyopt.Input{Language: set("ar")})},
		"continue": {Prompt: "A lighthouse keeper who collects lost letters", MaxTokens: 200, Story: "The keeper found a letter.\n\nIt was addressed to her.",
			Instruction: "She opens it.", Options: opts(storyopt.Input{Tone: set("hopeful")})},
		"continue-trimmed": {Prompt: "A lighthouse keeper", MaxTokens: 200, Story: longStory},
		"continue-zh-TW": {Prompt: "燈塔看守人", MaxTokens: 100, Story: strings.Repeat("她讀了每一封信。", 200),
			Options: opts(storyopt.Input{Language: set("zh-TW")})},
	}
	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			golden(t, name, o.params(req, "m"))
		})
	}
	t.Run("title-zh-TW", func(t *testing.T) {
		p, _ := o.titleParams(cases["options-zh-TW"], "從前，有一位燈塔看守人。", "m")
		golden(t, "title-zh-TW", p)
	})
}

func set[T any](v T) graphql.Omittable[*T] { return graphql.OmittableOf(&v) }

func golden(t *testing.T, name string, params any) {
	t.Helper()
	got, err := json.MarshalIndent(params, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "requests", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)+"\n"); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

package storyopt_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/go-cmp/cmp"

	"github.com/storybot/storybot/internal/storyopt"
)

func ptr[T any](v T) *T { return &v }

func set[T any](v T) graphql.Omittable[*T] { return graphql.OmittableOf(&v) }

func null[T any]() graphql.Omittable[*T] { return graphql.OmittableOf[*T](nil) }

func TestWith(t *testing.T) {
	base := storyopt.Options{
		Audience: ptr(storyopt.AudienceChildren), Genre: ptr("fable"),
		Length: ptr(storyopt.LengthShort), Language: ptr("en"),
	}
	for _, c := range []struct {
		name string
		in   *storyopt.Input
		want storyopt.Options
	}{
		{"nil changes nothing", nil, base},
		{"omitted fields keep theirs", &storyopt.Input{}, base},
		{"given fields replace", &storyopt.Input{Tone: set("  gentle "), Length: set(storyopt.LengthLong)}, storyopt.Options{
			Audience: base.Audience, Genre: base.Genre, Tone: ptr("gentle"), Length: ptr(storyopt.LengthLong), Language: base.Language,
		}},
		{"null clears", &storyopt.Input{Genre: null[string](), Audience: null[storyopt.Audience]()}, storyopt.Options{
			Length: base.Length, Language: base.Language,
		}},
		{"blank clears", &storyopt.Input{Genre: set("   ")}, storyopt.Options{
			Audience: base.Audience, Length: base.Length, Language: base.Language,
		}},
		{"tags are canonical", &storyopt.Input{Language: set(" zh-tw ")}, storyopt.Options{
			Audience: base.Audience, Genre: base.Genre, Length: base.Length, Language: ptr("zh-TW"),
		}},
		{"CJK genre", &storyopt.Input{Genre: set(strings.Repeat("童", storyopt.MaxWordsLength))}, storyopt.Options{
			Audience: base.Audience, Genre: ptr(strings.Repeat("童", storyopt.MaxWordsLength)), Length: base.Length, Language: base.Language,
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := base.With(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestWithRejectsBadOptions(t *testing.T) {
	for name, in := range map[string]*storyopt.Input{
		"bad tag":          {Language: set("english")},
		"undetermined":     {Language: set("und")},
		"private use only": {Language: set("x-klingon")},
		"too long a tag":   {Language: set(strings.Repeat("a-", 30) + "b")},
		"unknown audience": {Audience: set(storyopt.Audience("ELDERS"))},
		"unknown length":   {Length: set(storyopt.Length("EPIC"))},
		"over-long genre":  {Genre: set(strings.Repeat("g", storyopt.MaxWordsLength+1))},
		"two-line tone":    {Tone: set("dark\nstormy")},
		"control in genre": {Genre: set("fa\x00ble")},
	} {
		if _, err := (storyopt.Options{}).With(in); !errors.Is(err, storyopt.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestEnums(t *testing.T) {
	var a storyopt.Audience
	if err := a.UnmarshalGQL("TEENS"); err != nil || a != storyopt.AudienceTeens {
		t.Errorf("TEENS: %v %q", err, a)
	}
	if err := a.UnmarshalGQL("teens"); !errors.Is(err, storyopt.ErrInvalid) {
		t.Errorf("teens: %v", err)
	}
	var b strings.Builder
	storyopt.LengthMedium.MarshalGQL(&b)
	if b.String() != `"MEDIUM"` {
		t.Errorf("MarshalGQL: %s", b.String())
	}
	for l, want := range map[storyopt.Length]int{storyopt.LengthShort: 300, storyopt.LengthMedium: 600, storyopt.LengthLong: 1200, "": 0} {
		if got := (storyopt.Options{Length: &l}).MaxTokens(); got != want {
			t.Errorf("%q: %d tokens, want %d", l, got, want)
		}
	}
}

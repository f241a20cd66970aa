// Package storyopt holds the options that personalise a story (audience,
// genre, tone, length, language): their values and limits, how a patch
// from the API changes them, and what they mean for the token budget.
// Prompts keep them as defaults; each story records the options it was
// written with.
package storyopt

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"golang.org/x/text/language"

	"github.com/storybot/storybot/internal/textcheck"
)

// MaxWordsLength is the longest genre or tone, in characters: a few words,
// which go into the model's instructions as they are.
const MaxWordsLength = 60

// Token budgets of the story lengths: the maxTokens of a story whose request
// names a length and no maxTokens.
const (
	ShortTokens  = 300
	MediumTokens = 600
	LongTokens   = 1200
)

// ErrInvalid is wrapped by every error about bad options; its message says
// which and why.
var ErrInvalid = errors.New("invalid story options")

// Options personalise a story. The zero value asks for nothing in
// particular; every field is optional.
type Options struct {
	Audience *Audience `json:"audience,omitempty"`
	Genre    *string   `json:"genre,omitempty"`
	Tone     *string   `json:"tone,omitempty"`
	Length   *Length   `json:"length,omitempty"`
	// Language is a BCP 47 tag in its canonical form ("en", "zh-TW").
	Language *string `json:"language,omitempty"`
}

// Input is GraphQL's StoryOptionsInput: each field given (a value, or
// null to clear it) changes the options it is applied to; each field
// omitted keeps theirs.
type Input struct {
	Audience graphql.Omittable[*Audience] `json:"audience,omitempty"`
	Genre    graphql.Omittable[*string]   `json:"genre,omitempty"`
	Tone     graphql.Omittable[*string]   `json:"tone,omitempty"`
	Length   graphql.Omittable[*Length]   `json:"length,omitempty"`
	Language graphql.Omittable[*string]   `json:"language,omitempty"`
}

// With returns o changed by in (nil changes nothing), normalised (see
// Normalized). A bad value is an error wrapping ErrInvalid.
func (o Options) With(in *Input) (Options, error) {
	return in.Apply(o).Normalized()
}

// Apply returns o changed by in; a nil in changes nothing. It checks
// nothing: Normalized does.
func (in *Input) Apply(o Options) Options {
	if in != nil {
		set(&o.Audience, in.Audience)
		set(&o.Genre, in.Genre)
		set(&o.Tone, in.Tone)
		set(&o.Length, in.Length)
		set(&o.Language, in.Language)
	}
	return o
}

func set[T any](dst **T, v graphql.Omittable[*T]) {
	if v.IsSet() {
		*dst = v.Value()
	}
}

// Normalized checks o and returns it in its canonical form: genre and tone
// trimmed (empty clears them), the language tag canonical ("zh-tw" is
// "zh-TW"). A bad value is an error wrapping ErrInvalid.
func (o Options) Normalized() (Options, error) {
	if o.Audience != nil && !o.Audience.IsValid() {
		return o, fmt.Errorf("%w: audience %q is not one of CHILDREN, TEENS, ADULTS", ErrInvalid, *o.Audience)
	}
	if o.Length != nil && !o.Length.IsValid() {
		return o, fmt.Errorf("%w: length %q is not one of SHORT, MEDIUM, LONG", ErrInvalid, *o.Length)
	}
	for _, f := range []struct {
		name string
		v    **string
	}{{"genre", &o.Genre}, {"tone", &o.Tone}} {
		if *f.v == nil {
			continue
		}
		s := strings.TrimSpace(**f.v)
		if s == "" {
			*f.v = nil
			continue
		}
		if err := textcheck.Check(s, 1, MaxWordsLength); err != nil {
			return o, fmt.Errorf("%w: %s: %v", ErrInvalid, f.name, err)
		}
		if strings.ContainsAny(s, "\n\r\t") {
			return o, fmt.Errorf("%w: %s must be one line", ErrInvalid, f.name)
		}
		*f.v = &s
	}
	if o.Language != nil {
		tag, err := ParseLanguage(*o.Language)
		if err != nil {
			return o, err
		}
		s := tag.String()
		o.Language = &s
	}
	return o, nil
}

// ParseLanguage parses a BCP 47 language tag that names a language
// ("en", "zh-TW", "pt-BR"; not "und" or private use alone). A bad tag is an
// error wrapping ErrInvalid.
func ParseLanguage(s string) (language.Tag, error) {
	s = strings.TrimSpace(s)
	if len(s) > 35 { // RFC 5646's longest well-formed tag worth keeping
		return language.Und, fmt.Errorf("%w: language tag is too long", ErrInvalid)
	}
	tag, err := language.Parse(s)
	if err != nil {
		return language.Und, fmt.Errorf("%w: language %q is not a BCP 47 tag", ErrInvalid, s)
	}
	if base, conf := tag.Base(); conf != language.Exact || base.String() == "und" {
		return language.Und, fmt.Errorf("%w: language %q names no language", ErrInvalid, s)
	}
	return tag, nil
}

// Tag returns the options' language, and false when they name none.
func (o Options) Tag() (language.Tag, bool) {
	if o.Language == nil {
		return language.Und, false
	}
	tag, err := language.Parse(*o.Language)
	return tag, err == nil
}

// MaxTokens is the token budget of the options' length, or 0 when they
// name none.
func (o Options) MaxTokens() int {
	if o.Length == nil {
		return 0
	}
	return o.Length.Tokens()
}

// Audience is who a story is written for.
type Audience string

// The audiences.
const (
	AudienceChildren Audience = "CHILDREN"
	AudienceTeens    Audience = "TEENS"
	AudienceAdults   Audience = "ADULTS"
)

// IsValid reports whether a is one of the audiences.
func (a Audience) IsValid() bool {
	switch a {
	case AudienceChildren, AudienceTeens, AudienceAdults:
		return true
	}
	return false
}

// MarshalGQL writes a as a GraphQL enum value.
func (a Audience) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(a))) }

// UnmarshalGQL reads a GraphQL enum value.
func (a *Audience) UnmarshalGQL(v any) error { return unmarshalEnum(v, a, Audience.IsValid) }

// Length is about how long a story should be.
type Length string

// The lengths.
const (
	LengthShort  Length = "SHORT"
	LengthMedium Length = "MEDIUM"
	LengthLong   Length = "LONG"
)

// IsValid reports whether l is one of the lengths.
func (l Length) IsValid() bool { return l.Tokens() > 0 }

// Tokens is the token budget of a story of length l (0 for no length).
func (l Length) Tokens() int {
	switch l {
	case LengthShort:
		return ShortTokens
	case LengthMedium:
		return MediumTokens
	case LengthLong:
		return LongTokens
	}
	return 0
}

// MarshalGQL writes l as a GraphQL enum value.
func (l Length) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(l))) }

// UnmarshalGQL reads a GraphQL enum value.
func (l *Length) UnmarshalGQL(v any) error { return unmarshalEnum(v, l, Length.IsValid) }

func unmarshalEnum[T ~string](v any, dst *T, valid func(T) bool) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("%w: enum value must be a string", ErrInvalid)
	}
	if !valid(T(s)) {
		return fmt.Errorf("%w: %q is not a valid value", ErrInvalid, s)
	}
	*dst = T(s)
	return nil
}

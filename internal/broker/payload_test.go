package broker

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// repeatTo repeats s until the result is at least n bytes long.
func repeatTo(s string, n int) string {
	return strings.Repeat(s, (n+len(s)-1)/len(s))
}

// testTraceparent is a W3C traceparent, as a run's span context gives it.
const testTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestEncodePayloads(t *testing.T) {
	tests := []struct {
		name       string
		ev         Event
		wantPieces int // 0: more than one
		wantError  string
	}{
		{
			name:       "status only",
			ev:         Event{StoryID: "st_a", Offset: 42, Status: "COMPLETED", TokenCount: 9},
			wantPieces: 1,
		},
		{
			name:       "short text",
			ev:         Event{StoryID: "st_a", Delta: "Once upon a time", Status: "GENERATING", TokenCount: 4},
			wantPieces: 1,
		},
		{
			name: "text of ASCII",
			ev:   Event{StoryID: "st_a", Offset: 10, Delta: repeatTo("The quick brown fox. ", 30_000), Status: "GENERATING", TokenCount: 7000},
		},
		{
			name: "100 KB of multi-byte characters ending the story",
			ev:   Event{StoryID: "st_a", Offset: 3, Delta: repeatTo("Ωmega 日本語の物語 🙂🧙‍♀️ e\u0301 ", 100_000), Status: "COMPLETED", TokenCount: 25_000},
		},
		{
			name: "characters that JSON escapes",
			ev:   Event{StoryID: "st_a", Delta: repeatTo("\"\\\x01\n\t<>&\u2028\u2029\x7f", 40_000), Status: "GENERATING"},
		},
		{
			name:       "traceparent on every piece",
			ev:         Event{StoryID: "st_a", Delta: repeatTo("Once upon a time. ", 20_000), Status: "COMPLETED", Traceparent: testTraceparent},
			wantPieces: 0,
		},
		{
			name:       "a malformed traceparent is dropped",
			ev:         Event{StoryID: "st_a", Delta: "x", Status: "GENERATING", Traceparent: strings.Repeat("z", 55)},
			wantPieces: 1,
		},
		{
			name:      "long error is cut",
			ev:        Event{StoryID: "st_a", Offset: 5, Delta: repeatTo("ä", 9000), Status: "FAILED", Error: repeatTo("é", 5000)},
			wantError: strings.Repeat("é", maxErrorLen/2),
		},
		{
			name:       "longest story ID and status",
			ev:         Event{StoryID: strings.Repeat("\x01", maxStoryIDLen), Delta: repeatTo("\x02", 20_000), Status: strings.Repeat("\x03", maxStatusLen), Error: repeatTo("\x04", 5000)},
			wantError:  strings.Repeat("\x04", maxErrorLen/maxEscapedRune),
			wantPieces: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payloads, err := encodePayloads(tt.ev)
			if err != nil {
				t.Fatalf("encodePayloads: %v", err)
			}
			switch {
			case tt.wantPieces == 0 && len(payloads) < 2:
				t.Errorf("got %d payloads, want the text split", len(payloads))
			case tt.wantPieces > 0 && len(payloads) != tt.wantPieces:
				t.Errorf("got %d payloads, want %d", len(payloads), tt.wantPieces)
			}

			var text strings.Builder
			offset := tt.ev.Offset
			for i, payload := range payloads {
				if len(payload) > maxPayload {
					t.Errorf("payload %d has %d bytes, over %d", i, len(payload), maxPayload)
				}
				ev, err := decodePayload(payload)
				if err != nil {
					t.Fatalf("payload %d: %v", i, err)
				}
				if ev.Offset != offset {
					t.Errorf("payload %d at offset %d, want %d", i, ev.Offset, offset)
				}
				if !utf8.ValidString(ev.Delta) {
					t.Errorf("payload %d cuts a character: %q…", i, ev.Delta[:min(len(ev.Delta), 16)])
				}
				offset += len(ev.Delta)
				text.WriteString(ev.Delta)

				want := Event{StoryID: tt.ev.StoryID, Offset: ev.Offset, Delta: ev.Delta, Status: tt.ev.Status, TokenCount: tt.ev.TokenCount}
				if tt.ev.Traceparent == testTraceparent {
					want.Traceparent = testTraceparent
				}
				if i == len(payloads)-1 {
					want.Error = tt.ev.Error
					if tt.wantError != "" {
						want.Error = tt.wantError
					}
				} else if isTerminal(tt.ev.Status) {
					want.Status = statusGenerating
				}
				if diff := cmp.Diff(want, ev); diff != "" {
					t.Errorf("payload %d (-want +got):\n%s", i, diff)
				}
			}
			if text.String() != tt.ev.Delta {
				t.Errorf("pieces join to %d bytes of text, want the %d published", text.Len(), len(tt.ev.Delta))
			}
		})
	}
}

func TestDecodePayloadRejects(t *testing.T) {
	for _, payload := range []string{
		``,
		`not json`,
		`{"o":1,"d":"x"}`,
		`{"s":"st_a","o":-1}`,
		`{"s":"st_a","o":"one"}`,
	} {
		if ev, err := decodePayload(payload); err == nil {
			t.Errorf("decodePayload(%q) = %+v, want an error", payload, ev)
		}
	}
}

func TestCutEscaped(t *testing.T) {
	tests := []struct {
		s    string
		room int
		want string
	}{
		{"", 4, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc"},
		{"日本", 5, "日"},
		{`a"b`, 2, "a"},
		{"\x01a", 6, "\x01"},
		{"🙂x", 3, ""},
	}
	for _, tt := range tests {
		if got := cutEscaped(tt.s, tt.room); got != tt.want {
			t.Errorf("cutEscaped(%q, %d) = %q, want %q", tt.s, tt.room, got, tt.want)
		}
	}
}

func TestWithDSNParam(t *testing.T) {
	tests := []struct {
		dsn, key, value, want string
	}{
		{"host=db user=app", "application_name", "x", "host=db user=app application_name='x'"},
		{"", "application_name", "it's", `application_name='it\'s'`},
		{"postgres://app@db:5432/story?sslmode=disable", "application_name", "a b",
			"postgres://app@db:5432/story?application_name=a+b&sslmode=disable"},
		{"postgresql://db/story?application_name=old", "application_name", "new",
			"postgresql://db/story?application_name=new"},
	}
	for _, tt := range tests {
		got, err := withDSNParam(tt.dsn, tt.key, tt.value)
		if err != nil {
			t.Errorf("withDSNParam(%q): %v", tt.dsn, err)
			continue
		}
		if got != tt.want {
			t.Errorf("withDSNParam(%q, %q, %q) = %q, want %q", tt.dsn, tt.key, tt.value, got, tt.want)
		}
	}
}

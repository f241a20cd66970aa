package pulid

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestNewParses(t *testing.T) {
	prev := New(PromptPrefix)
	for range 1000 {
		id := New(PromptPrefix)
		if _, err := Parse(string(id)); err != nil {
			t.Fatalf("Parse(New()) = %v", err)
		}
		if id <= prev {
			t.Fatalf("IDs not increasing: %s then %s", prev, id)
		}
		prev = id
	}
	if got := New(StoryPrefix).Prefix(); got != StoryPrefix {
		t.Errorf("Prefix() = %q", got)
	}
}

func TestParseRejects(t *testing.T) {
	for _, s := range []string{
		"", "pr", "pr_", "_01JDQ3K8Z6V4X0M2T5R7N9B1C3", "zz_01JDQ3K8Z6V4X0M2T5R7N9B1C3",
		"PR_01JDQ3K8Z6V4X0M2T5R7N9B1C3", "pr_01JDQ3K8Z6V4X0M2T5R7N9B1C", "pr_01JDQ3K8Z6V4X0M2T5R7N9B1C3X",
		"pr_01JDQ3K8Z6V4X0M2T5R7N9B1CU", "pr-01JDQ3K8Z6V4X0M2T5R7N9B1C3", "pr_01jdq3k8z6v4x0m2t5r7n9b1c3 ",
		"pr_81JDQ3K8Z6V4X0M2T5R7N9B1C3", strings.Repeat("x", 10000), "pr_\x00",
	} {
		if _, err := Parse(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%.40q) = %v, want ErrInvalid", s, err)
		}
	}
	if _, err := Parse(strings.Repeat("é", 100)); err == nil || len(err.Error()) > 80 {
		t.Errorf("the error for a long input must be short: %v", err)
	}
}

func TestGraphQLRoundTrip(t *testing.T) {
	id := New(StoryPrefix)
	var buf bytes.Buffer
	id.MarshalGQL(&buf)
	if buf.String() != `"`+string(id)+`"` {
		t.Errorf("MarshalGQL = %s", buf.String())
	}
	var back ID
	if err := back.UnmarshalGQL(string(id)); err != nil || back != id {
		t.Errorf("UnmarshalGQL = %q, %v", back, err)
	}
	if err := back.UnmarshalGQL(42); !errors.Is(err, ErrInvalid) {
		t.Errorf("UnmarshalGQL(42) = %v", err)
	}
	var scanned ID
	if err := scanned.Scan([]byte(id)); err != nil || scanned != id {
		t.Errorf("Scan = %q, %v", scanned, err)
	}
}

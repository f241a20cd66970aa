package ecstest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAllowed(t *testing.T) {
	for key, want := range map[string]bool{
		"@timestamp": true, "error.message": true, "error.stack_trace": true, "event.duration": true,
		"user.id": true, "graphql.operation.name": true, "labels.time": true,
		"storybot.story.id": true, "storybot.graphql.error_codes": true,
		"error": false, "stack": false, "story_id": false, "duration": false, "component": false,
		"storybot": false, "storybot.": false, "storybot.Story": false, "labels.": false, "graphql.errors": false,
	} {
		if got := Allowed(key); got != want {
			t.Errorf("Allowed(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestKeysFlattenObjects(t *testing.T) {
	got, err := Keys([]byte(`{"message":"m","error":{"message":"x","type":"y"},"storybot.graphql.error_codes":["A"],"labels":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"error.message", "error.type", "labels", "message", "storybot.graphql.error_codes"}, got); diff != "" {
		t.Errorf("Keys (-want +got):\n%s", diff)
	}
}

func TestCheckOutput(t *testing.T) {
	out := `{"message":"ok","trace.id":"a"}

{"message":"story finished","story_id":"st_1","error":"boom"}
not json
{"message":"again","story_id":"st_2"}
`
	p := CheckOutput(out)
	if len(p) != 3 || !strings.Contains(strings.Join(p, "\n"), `"story_id" (in "story finished")`) ||
		!strings.Contains(strings.Join(p, "\n"), `"error"`) || !strings.Contains(strings.Join(p, "\n"), "not a JSON object") {
		t.Errorf("CheckOutput found %q", p)
	}
}

func TestListIsClean(t *testing.T) {
	for _, f := range Fields() {
		if strings.HasPrefix(f, "storybot.") || f != strings.TrimSpace(f) || strings.ContainsAny(f, " \t") {
			t.Errorf("the field list holds %q", f)
		}
	}
}

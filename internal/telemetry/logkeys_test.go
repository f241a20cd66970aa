package telemetry_test

import (
	"path/filepath"
	"testing"

	"github.com/storybot/storybot/internal/telemetry/ecstest"
)

// TestLogKeysInSource reads every Go file of the module (tests and
// node_modules left out) and checks every log key it can write against the
// ECS field list and the storybot. namespace: the keys of slog's attribute
// constructors (slog.String("k", v), ..., with slog.Group's key as a
// prefix of its members'), slog.Attr{Key: "k"} literals, and the key-value
// arguments of slog's logging calls (log.Info("msg", "k", v), With, Log).
// A key that is not a string literal or a string constant of its package
// fails the test, so that no key escapes it. The lines that the server's
// tests capture are checked too (the root package's launch), and the deploy
// stack's lines at Logstash.
func TestLogKeysInSource(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	scan, err := ecstest.ScanSource(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range scan.Unreadable {
		t.Errorf("%s: a log key that is no constant string; this test cannot check it", u)
	}
	found := map[string]bool{}
	for _, k := range scan.Keys {
		found[k.Key] = true
		if !ecstest.Allowed(k.Key) {
			t.Errorf("%s: log key %q is neither an ECS %s field (ecstest/ecs-8.11.txt) nor under storybot.", k.Pos, k.Key, ecstest.ECSVersion)
		}
	}
	// The scan sees the keys it must: if one of these is missing, the scan
	// has gone blind to a way storybot writes keys.
	for _, want := range []string{
		"trace.id", "storybot.connection.trace_id", "user.id", "ecs.version", "service.name", "host.name",
		"graphql.operation.name", "event.outcome", "event.duration",
		"error.message", "error.type", "error.stack_trace",
	} {
		if !found[want] {
			t.Errorf("the scan did not find the key %q that storybot writes", want)
		}
	}
	if len(scan.Keys) < 50 {
		t.Errorf("the scan found only %d keys in the module", len(scan.Keys))
	}
}

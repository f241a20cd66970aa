package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/storybot/storybot/internal/telemetry"
	"github.com/storybot/storybot/internal/telemetry/ecstest"
)

// TestErrorAttrs logs errors and a panic through the real logger and reads
// back the ECS error object: error.message, error.type (the innermost
// wrapped error's Go type) and error.stack_trace; nothing for a nil error.
func TestErrorAttrs(t *testing.T) {
	var out bytes.Buffer
	logger, closeLogs, err := telemetry.NewLogger(telemetry.LogConfig{}, &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeLogs(context.Background())

	_, statErr := os.Stat("/no/such/file")
	wrapped := fmt.Errorf("loading the config: %w", statErr)
	logger.Warn("wrapped", telemetry.Error(wrapped))
	logger.Warn("nil", telemetry.Error(nil))
	logger.Warn("text", telemetry.ErrorMessage("the model server answered 503"))
	logger.Error("panic", telemetry.Panic("boom", []byte("goroutine 1 [running]:\nmain.main()")))
	logger.Error("panic with an error", telemetry.Panic(fs.ErrNotExist, nil))

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5:\n%s", len(lines), out.String())
	}
	errorObject := func(i int) map[string]any {
		t.Helper()
		var l map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &l); err != nil {
			t.Fatal(err)
		}
		obj, _ := l["error"].(map[string]any)
		return obj
	}
	for i, want := range []map[string]any{
		{"message": wrapped.Error(), "type": "syscall.Errno"},
		nil,
		{"message": "the model server answered 503"},
		{"message": "boom", "type": "panic", "stack_trace": "goroutine 1 [running]:\nmain.main()"},
		{"message": fs.ErrNotExist.Error(), "type": "*errors.errorString", "stack_trace": ""},
	} {
		if diff := cmp.Diff(want, errorObject(i)); diff != "" {
			t.Errorf("line %d's error object (-want +got):\n%s\n%s", i, diff, lines[i])
		}
	}
	if !errors.Is(wrapped, fs.ErrNotExist) {
		t.Fatal("the test's error is not what it means to be")
	}
	if p := ecstest.CheckOutput(out.String()); len(p) > 0 {
		t.Errorf("keys outside ECS and storybot.*: %v", p)
	}
}

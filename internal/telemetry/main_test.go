package telemetry_test

import (
	"testing"

	"go.uber.org/goleak"
)

// lumberjack starts one goroutine per log file that compresses and removes
// old files; it has no way to stop it (its Close leaves it running).
var ignoreLumberjack = goleak.IgnoreTopFunction("gopkg.in/natefinch/lumberjack%2ev2.(*Logger).millRun")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, ignoreLumberjack)
}

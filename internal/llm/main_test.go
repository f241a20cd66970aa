package llm

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: a
// generator must leave nothing running once Generate returns.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

package ecstest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestScanLogKeysSample runs the scan on testdata/logkeys, which writes keys
// in every form storybot's code may use, and checks it finds each of them,
// nothing else, and the keys it cannot read.
func TestScanLogKeysSample(t *testing.T) {
	scan, err := ScanSource("testdata/logkeys")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range scan.Keys {
		got = append(got, k.Key)
	}
	want := []string{
		"a.string", "from.const", "kv.attr", "kv.one", "kv.two", "literal.attr", "log.kv",
		"outer.deeper.leaf", "outer.inner", "pkg.kv", "with.attr", "with.kv",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("keys found (-want +got):\n%s", diff)
	}
	if len(scan.Unreadable) != 2 || !strings.Contains(scan.Unreadable[0], "sample.go:24") || !strings.Contains(scan.Unreadable[1], "sample.go:25") {
		t.Errorf("unreadable keys %v, want the ones at sample.go:24 (a variable key) and 25 (WithGroup)", scan.Unreadable)
	}
}

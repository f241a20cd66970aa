package textcheck

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		in      string
		wantErr string
	}{
		{"a", ""},
		{"tab\tnl\r\n", ""},
		{strings.Repeat("字", 10), ""},
		{strings.Repeat("字", 11), "at most 10 characters, got 11"},
		{"", "must not be empty"},
		{"nul\x00", "U+0000"},
		{"bell\a", "U+0007"},
		{"\xff\xfe", "valid UTF-8"},
	} {
		err := Check(tc.in, 1, 10)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("Check(%q) = %v", tc.in, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("Check(%q) = %v, want %q", tc.in, err, tc.wantErr)
		}
	}
	if err := Check("ab", 3, 10); err == nil || !strings.Contains(err.Error(), "at least 3") {
		t.Errorf("Check below min = %v", err)
	}
}

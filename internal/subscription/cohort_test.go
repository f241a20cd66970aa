package subscription

import (
	"slices"
	"testing"
)

func TestSeqPlaceholders(t *testing.T) {
	for _, tc := range []struct {
		payload string
		want    []int
	}{
		{`{"data":{"s":{"seq":-1999999999,"delta":"x"}}`, []int{20}},
		{`{"data":{"s":{"delta":"x","seq":-1999999999}}`, []int{32}},
		{`{"data":{"s":{"a":-1999999999,"b":-1999999999}}`, []int{18, 34}},
		// Text that imitates it is escaped inside its string.
		{`{"data":{"s":{"delta":"\"seq\":-1999999999,","seq":1}}`, nil},
		{`{"data":{"s":{"seq":-19999999991}}`, nil},
	} {
		if got := seqPlaceholders([]byte(tc.payload)); !slices.Equal(got, tc.want) {
			t.Errorf("seqPlaceholders(%s) = %v, want %v", tc.payload, got, tc.want)
		}
	}
}

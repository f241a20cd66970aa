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

// discard is a sink that takes every frame and writes it nowhere.
type discard struct{ frames int }

func (d *discard) queue(f frame) bool {
	d.frames++
	if f.op != nil {
		f.op.written()
	}
	return true
}
func (d *discard) framing() framing    { return transportWSFraming }
func (d *discard) finished(*operation) {}

// BenchmarkSharedEvent is a cohort's work per member per event, once the
// event is rendered: the member's frame around the shared payload, with
// its own seq.
func BenchmarkSharedEvent(b *testing.B) {
	payload := []byte(`{"data":{"storyStream":{"seq":-1999999999,"delta":" and the lighthouse keeper counted the waves","status":"GENERATING","tokenCount":412,"error":null}}`)
	r := rendering{payload: payload, seqAt: seqPlaceholders(payload)}
	s := &discard{}
	op := newOperation(b.Context(), "1", s)
	op.head, op.tail = transportWSFraming.nextHead("1"), transportWSFraming.tail("4bf92f3577b34da6a3ce929d0e0e4736")
	b.ReportAllocs()
	for i := range b.N {
		op.shared(&r, i+1, false)
	}
}

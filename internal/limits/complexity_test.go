package limits

import (
	"math"
	"testing"
)

func TestConnectionComplexity(t *testing.T) {
	n := func(v int) *int { return &v }
	tests := []struct {
		name        string
		child       int
		first, last *int
		want        int
	}{
		{name: "first", child: 4, first: n(10), want: 41},
		{name: "last", child: 4, last: n(5), want: 21},
		{name: "both: the smaller", child: 4, first: n(10), last: n(5), want: 21},
		{name: "both: the smaller, other way round", child: 4, first: n(3), last: n(50), want: 13},
		{name: "neither: the largest page", child: 4, want: 401},
		{name: "zero items", child: 4, first: n(0), want: 1},
		{name: "negative counts as zero", child: 4, first: n(-5), want: 1},
		{name: "negative last with first", child: 4, first: n(10), last: n(-1), want: 1},
		{name: "beyond the largest page: as asked", child: 4, first: n(1000), want: 4001},
		{name: "no selections", child: 0, first: n(10), want: 1},
		{name: "saturates", child: math.MaxInt / 2, first: n(3), want: math.MaxInt},
		{name: "saturates on huge first", child: 2, first: n(math.MaxInt), want: math.MaxInt},
		{name: "exactly the largest int", child: (math.MaxInt - 1) / 2, first: n(2), want: math.MaxInt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ConnectionComplexity(tt.child, tt.first, tt.last, 100); got != tt.want {
				t.Errorf("ConnectionComplexity(%d, %v, %v, 100) = %d, want %d", tt.child, deref(tt.first), deref(tt.last), got, tt.want)
			}
		})
	}
}

func TestListComplexity(t *testing.T) {
	tests := []struct{ child, n, want int }{
		{3, 0, 1},
		{3, 1, 4},
		{3, 100, 301},
		{-5, 10, 1},
		{3, -1, 1},
		{math.MaxInt, 1, math.MaxInt},
		{1 << 32, 1 << 32, math.MaxInt},
	}
	for _, tt := range tests {
		if got := ListComplexity(tt.child, tt.n); got != tt.want {
			t.Errorf("ListComplexity(%d, %d) = %d, want %d", tt.child, tt.n, got, tt.want)
		}
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

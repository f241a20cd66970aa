package limits

import "math"

// DefaultComplexityLimit is the complexity limit storybot recommends for
// gqlgen's extension.FixedComplexityLimit, with connections costed by
// ConnectionComplexity. It admits a full page (100 items) of any one
// connection with a couple of dozen fields per item, and rejects a full page
// of connections nested in another full page.
const DefaultComplexityLimit = 3000

// ConnectionComplexity is the cost of a Relay connection field for gqlgen's
// complexity calculation: childComplexity (the cost of the selections made on
// the connection, edges and node included) once for each item the page may
// hold, plus one for the field itself. The page holds first or last items
// (the smaller if both are given, a negative one counting as 0) and, if neither is
// given, maxPageSize, the most a page may hold.
//
// A generated ComplexityRoot function for a connection receives
// childComplexity, first and last and can return this directly; the result
// is at least 1, so gqlgen always uses it, and it saturates rather than
// overflow, so no query can wrap around to a small cost.
func ConnectionComplexity(childComplexity int, first, last *int, maxPageSize int) int {
	n := -1
	for _, c := range [...]*int{first, last} {
		if c != nil && (n < 0 || *c < n) {
			n = max(*c, 0)
		}
	}
	if n < 0 {
		n = maxPageSize
	}
	return ListComplexity(childComplexity, n)
}

// ListComplexity is the cost of a field that returns n items, each costing
// childComplexity: 1 + n×childComplexity, saturating at math.MaxInt. Use it
// for list fields such as nodes(ids:), with n = len(ids).
func ListComplexity(childComplexity, n int) int {
	childComplexity = max(childComplexity, 0)
	n = max(n, 0)
	if n != 0 && childComplexity > (math.MaxInt-1)/n {
		return math.MaxInt
	}
	return 1 + n*childComplexity
}

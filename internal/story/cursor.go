package story

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/storybot/storybot/internal/pulid"
)

// A cursor is a position in one story's text: the byte offset after an
// event's delta. Clients hold it as an opaque string and resume a stream
// after it (Resume). It names its story, so that a cursor of one story is
// refused on another.

// cursorVersion starts every cursor, so that the format can change.
const cursorVersion = "c1"

// Cursor returns the position after e's delta, for GraphQL's
// StoryEvent.cursor.
func (e *Event) Cursor() string {
	return encodeCursor(e.StoryID, e.End)
}

func encodeCursor(id pulid.ID, offset int) string {
	raw := cursorVersion + ":" + string(id) + ":" + strconv.Itoa(offset)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// decodeCursor returns the offset a cursor of story id names.
func decodeCursor(id pulid.ID, cursor string) (int, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(cursor) > 200 {
		return 0, invalid("after is not a cursor of a story stream")
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 3 || parts[0] != cursorVersion {
		return 0, invalid("after is not a cursor of a story stream")
	}
	if pulid.ID(parts[1]) != id {
		return 0, invalid("after is a cursor of another story")
	}
	offset, err := strconv.Atoi(parts[2])
	if err != nil || offset < 0 {
		return 0, invalid("after is not a cursor of a story stream")
	}
	return offset, nil
}

// Package pulid provides storybot's global object IDs: a short type prefix
// followed by a ULID, such as "pr_01JDQ3K8Z6V4X0M2T5R7N9B1C3".
//
// The prefix names the kind of object, so that Relay's Query.node can tell
// which table to read from the ID alone, and the ULID sorts by creation time.
// IDs are opaque to clients: they must not parse them.
package pulid

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/oklog/ulid/v2"
)

// ErrInvalid is wrapped by every error about a malformed ID.
var ErrInvalid = errors.New("invalid id")

// ID is a prefixed ULID. It is stored as text and travels in GraphQL as ID.
type ID string

// sep separates the type prefix from the ULID.
const sep = "_"

// The type prefixes, one per kind of object.
const (
	PromptPrefix   = "pr"
	StoryPrefix    = "st"
	UserPrefix     = "us"
	SessionPrefix  = "se"
	APITokenPrefix = "tk"
)

// prefixes are the prefixes Parse accepts.
var prefixes = map[string]bool{
	PromptPrefix: true, StoryPrefix: true, UserPrefix: true, SessionPrefix: true, APITokenPrefix: true,
}

// New returns a new ID with the given type prefix. ULIDs made in one process
// are strictly increasing, so IDs made later sort after earlier ones.
func New(prefix string) ID {
	return ID(prefix + sep + ulid.Make().String())
}

// Parse checks that s is a well-formed ID of a known type and returns it.
func Parse(s string) (ID, error) {
	prefix, rest, ok := strings.Cut(s, sep)
	if !ok || !prefixes[prefix] {
		return "", fmt.Errorf("%w: %s", ErrInvalid, quote(s))
	}
	if _, err := ulid.ParseStrict(rest); err != nil || len(rest) != ulid.EncodedSize {
		return "", fmt.Errorf("%w: %s", ErrInvalid, quote(s))
	}
	return ID(s), nil
}

// Prefix returns the type prefix of a well-formed ID.
func (id ID) Prefix() string {
	prefix, _, _ := strings.Cut(string(id), sep)
	return prefix
}

// Scan implements sql.Scanner.
func (id *ID) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		return nil
	case string:
		*id = ID(v)
	case []byte:
		*id = ID(string(v))
	default:
		return fmt.Errorf("pulid: cannot scan %T into an ID", src)
	}
	return nil
}

// Value implements driver.Valuer.
func (id ID) Value() (driver.Value, error) {
	return string(id), nil
}

// UnmarshalGQL implements graphql.Unmarshaler: it accepts only well-formed IDs.
func (id *ID) UnmarshalGQL(v any) error {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case ID:
		s = string(v)
	default:
		return fmt.Errorf("%w: an ID must be a string, not %T", ErrInvalid, v)
	}
	parsed, err := Parse(s)
	if err != nil {
		return err
	}
	*id = parsed
	return nil
}

// MarshalGQL implements graphql.Marshaler.
func (id ID) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(string(id)))
}

// quote shortens and quotes untrusted input for an error message.
func quote(s string) string {
	const max = 40
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

package broker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// PostgreSQL refuses a NOTIFY payload of 8000 bytes or more. Payloads are
// kept to maxPayload bytes, and an event whose text does not fit is split.
const maxPayload = 7000

// maxErrorLen bounds the escaped length of an event's Error in a payload;
// a longer one is cut (the store keeps it whole).
const maxErrorLen = 1024

// maxEscapedRune is the most bytes one character takes in a JSON string.
const maxEscapedRune = 6

// wireEvent is an [Event] as a notification carries it: compact JSON with
// short keys, such as {"s":"st_01J…","o":120,"d":" upon a time","t":"GENERATING","n":31}.
// Resync never travels: only a receiving broker sets it.
type wireEvent struct {
	StoryID    string `json:"s"`
	Offset     int    `json:"o"`
	Delta      string `json:"d,omitempty"`
	Status     string `json:"t,omitempty"`
	TokenCount int    `json:"n,omitempty"`
	Error      string `json:"e,omitempty"`
	// Traceparent is the W3C traceparent of the run that published the
	// event, when its span is recorded.
	Traceparent string `json:"p,omitempty"`
}

// encodePayloads returns the payloads that carry ev, in order. One suffices
// unless ev's text is too long for it; then each payload carries the next
// piece of the text at the next offset, cut between characters. Only the
// last carries ev's Error, and while ev's status ends the story the others
// say GENERATING, so that no subscriber takes the story for finished before
// its last piece.
func encodePayloads(ev Event) ([]string, error) {
	ev.Error = cutEscaped(ev.Error, maxErrorLen)
	if !validTraceparent(ev.Traceparent) {
		ev.Traceparent = "" // never let a malformed one take a payload's room
	}
	last := wireEvent{StoryID: ev.StoryID, Status: ev.Status, TokenCount: ev.TokenCount, Error: ev.Error, Traceparent: ev.Traceparent}
	middle := wireEvent{StoryID: ev.StoryID, Status: ev.Status, TokenCount: ev.TokenCount, Traceparent: ev.Traceparent}
	if isTerminal(ev.Status) {
		middle.Status = statusGenerating
	}

	// The room left for text is what the larger frame leaves, with
	// `,"d":""` and the widest offset counted in.
	frame := 0
	for _, w := range []wireEvent{last, middle} {
		w.Offset = ev.Offset + len(ev.Delta)
		b, err := marshal(w)
		if err != nil {
			return nil, err
		}
		frame = max(frame, len(b)+len(`,"d":""`))
	}
	room := maxPayload - frame
	if room < maxEscapedRune {
		return nil, fmt.Errorf("%w: fixed fields take %d bytes of a payload", ErrInvalidEvent, frame)
	}

	pieces := splitEscaped(ev.Delta, room)
	payloads := make([]string, 0, len(pieces))
	offset := ev.Offset
	for i, piece := range pieces {
		w := middle
		if i == len(pieces)-1 {
			w = last
		}
		w.Offset, w.Delta = offset, piece
		offset += len(piece)
		b, err := marshal(w)
		if err != nil {
			return nil, err
		}
		if len(b) > maxPayload {
			return nil, fmt.Errorf("broker: payload of %d bytes exceeds %d", len(b), maxPayload)
		}
		payloads = append(payloads, string(b))
	}
	return payloads, nil
}

// A notification carries one or more payloads, one per line: compact JSON
// never holds a raw newline, so they are joined with '\n'. Publishing
// packs the payloads of many events into as few notifications as fit.

// packPayloads joins payloads, in order, into notifications of at most
// maxPayload bytes each.
func packPayloads(payloads []string) []string {
	var (
		packed []string
		cur    []byte
	)
	for _, p := range payloads {
		if len(cur) > 0 && len(cur)+1+len(p) > maxPayload {
			packed = append(packed, string(cur))
			cur = cur[:0]
		}
		if len(cur) > 0 {
			cur = append(cur, '\n')
		}
		cur = append(cur, p...)
	}
	if len(cur) > 0 {
		packed = append(packed, string(cur))
	}
	return packed
}

// decodeNotification returns the events a notification carries, in order,
// and an error for each payload in it that carries none.
func decodeNotification(notification string) ([]Event, []error) {
	var (
		events []Event
		errs   []error
	)
	for payload := range strings.SplitSeq(notification, "\n") {
		ev, err := decodePayload(payload)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		events = append(events, ev)
	}
	return events, errs
}

// decodePayload returns the event a payload carries.
func decodePayload(payload string) (Event, error) {
	var w wireEvent
	if err := json.Unmarshal([]byte(payload), &w); err != nil {
		return Event{}, fmt.Errorf("broker: decoding payload: %w", err)
	}
	if w.StoryID == "" || w.Offset < 0 {
		return Event{}, fmt.Errorf("broker: payload without story ID or with a negative offset")
	}
	return Event{
		StoryID:     w.StoryID,
		Offset:      w.Offset,
		Delta:       w.Delta,
		Status:      w.Status,
		TokenCount:  w.TokenCount,
		Traceparent: w.Traceparent,
		Error:       w.Error,
	}, nil
}

// marshal encodes w as compact JSON, leaving <, > and & as they are.
func marshal(w wireEvent) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, fmt.Errorf("broker: encoding payload: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// splitEscaped cuts s between characters into pieces that each take at most
// room bytes inside a JSON string. It returns one piece, possibly empty,
// when s fits.
func splitEscaped(s string, room int) []string {
	var pieces []string
	start, size := 0, 0
	for i, r := range s {
		n := escapedLen(r)
		if size+n > room {
			pieces = append(pieces, s[start:i])
			start, size = i, 0
		}
		size += n
	}
	return append(pieces, s[start:])
}

// cutEscaped returns the longest prefix of s, cut between characters, that
// takes at most room bytes inside a JSON string.
func cutEscaped(s string, room int) string {
	size := 0
	for i, r := range s {
		size += escapedLen(r)
		if size > room {
			return s[:i]
		}
	}
	return s
}

// escapedLen returns how many bytes encoding/json, without HTML escaping,
// spends on r at most.
func escapedLen(r rune) int {
	switch {
	case r == '"' || r == '\\':
		return 2
	case r < 0x20, r == '\u2028', r == '\u2029', r == utf8.RuneError:
		return maxEscapedRune
	default:
		return utf8.RuneLen(r)
	}
}

// validTraceparent reports whether s has the shape of a W3C traceparent of
// version 00 (55 characters: version, trace ID, span ID and flags).
func validTraceparent(s string) bool {
	if len(s) != 55 || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '-' && !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

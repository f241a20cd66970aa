// Package textcheck validates text that people send to storybot.
package textcheck

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Check returns an error, worded for the person who sent s, unless s is valid UTF-8 of min to max characters (runes)
// with no control characters other than tab, line feed and carriage return.
func Check(s string, min, max int) error {
	if !utf8.ValidString(s) {
		return errors.New("must be valid UTF-8")
	}
	n := utf8.RuneCountInString(s)
	switch {
	case n < min && n == 0:
		return errors.New("must not be empty")
	case n < min:
		return fmt.Errorf("must be at least %d characters, got %d", min, n)
	case n > max:
		return fmt.Errorf("must be at most %d characters, got %d", max, n)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return fmt.Errorf("must not contain the control character %U", r)
		}
	}
	return nil
}

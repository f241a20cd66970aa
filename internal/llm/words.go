package llm

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what the storyteller takes from a prompt, so that a prompt of
// any length gives a story of about the same length.
const (
	maxPromptTerms = 8  // noun phrases, and other words, kept from a prompt
	maxTermRunes   = 24 // a longer word is cut
	maxPhraseWords = 3  // words in one noun phrase
	maxQuoteRunes  = 80 // the prompt quoted in the story
)

// determiners start the noun phrases that the storyteller looks for in an
// English prompt: "a dragon", "the old lighthouse".
var determiners = setOf("a", "an", "the", "my", "your", "his", "her", "their", "our", "its",
	"this", "that", "these", "those", "some", "every", "each", "another")

// stopWords are English words too common to carry a prompt's meaning,
// including those of requests ("write me a story about").
var stopWords = setOf(
	"a", "an", "the", "my", "your", "his", "her", "their", "our", "its", "this", "that", "these", "those",
	"some", "every", "each", "another", "any", "all", "no", "not", "and", "or", "but", "nor", "so", "yet",
	"if", "then", "than", "as", "of", "in", "on", "at", "to", "for", "from", "by", "with", "without",
	"about", "into", "onto", "over", "under", "after", "before", "between", "through", "during", "up",
	"down", "out", "off", "who", "whom", "whose", "which", "what", "when", "where", "why", "how",
	"i", "me", "we", "us", "you", "he", "him", "she", "it", "they", "them", "is", "are", "was",
	"were", "be", "been", "being", "am", "do", "does", "did", "have", "has", "had", "can", "could",
	"will", "would", "shall", "should", "may", "might", "must", "there", "here", "very", "just",
	"too", "also", "only", "please", "write", "tell", "make", "create", "give", "story", "stories",
	"tale", "tales", "short", "long", "once", "upon", "time", "while", "one", "like")

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// promptTerms is what the storyteller weaves into a story.
type promptTerms struct {
	phrases []string // noun phrases, as written: "red dragon", "Paris"
	words   []string // other meaningful words, in any script
	quote   string   // the prompt on one line, shortened; "" for an empty prompt
	count   int      // how many words the prompt has
}

// analyzePrompt reads a prompt in any language or script. In English it
// finds noun phrases after determiners; in every script it keeps the words
// that are not stop words. Words are runs of letters, digits and marks,
// with apostrophes and hyphens inside them.
func analyzePrompt(prompt string) promptTerms {
	var t promptTerms
	t.quote = quote(prompt)
	seen := map[string]bool{}
	addWord := func(w string) {
		key := strings.ToLower(w)
		if !seen[key] && len(t.words) < maxPromptTerms {
			seen[key] = true
			t.words = append(t.words, w)
		}
	}
	var phrase []string
	inPhrase := false
	endPhrase := func() {
		if len(phrase) > 0 {
			p := strings.Join(phrase, " ")
			if key := strings.ToLower(p); !seen["phrase:"+key] && len(t.phrases) < maxPromptTerms {
				seen["phrase:"+key] = true
				t.phrases = append(t.phrases, p)
			}
		}
		phrase, inPhrase = phrase[:0], false
	}
	for _, tok := range scanWords(prompt) {
		if tok.breakBefore {
			endPhrase()
		}
		t.count++
		lower := strings.ToLower(tok.word)
		switch {
		case determiners[lower]:
			endPhrase()
			inPhrase = true
		case stopWords[lower]:
			endPhrase()
		case !hasLetter(tok.word) || tooShort(tok.word):
			endPhrase()
		default:
			w := cutRunes(tok.word, maxTermRunes)
			if inPhrase && len(phrase) < maxPhraseWords {
				phrase = append(phrase, w)
			} else {
				endPhrase()
				addWord(w)
			}
		}
	}
	endPhrase()
	// A word that heads a phrase is not worth repeating on its own.
	var words []string
	for _, w := range t.words {
		if !inPhrases(t.phrases, w) {
			words = append(words, w)
		}
	}
	t.words = words
	return t
}

func inPhrases(phrases []string, word string) bool {
	for _, p := range phrases {
		for _, w := range strings.Fields(p) {
			if strings.EqualFold(w, word) {
				return true
			}
		}
	}
	return false
}

// scannedWord is one word of a prompt. breakBefore reports punctuation
// between it and the word before, which ends a phrase.
type scannedWord struct {
	word        string
	breakBefore bool
}

func scanWords(text string) []scannedWord {
	var out []scannedWord
	var cur strings.Builder
	brk := false
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, scannedWord{word: strings.Trim(cur.String(), "'’-"), breakBefore: brk})
			cur.Reset()
			brk = false
		}
	}
	for _, r := range text {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			cur.WriteRune(r)
		case (r == '\'' || r == '’' || r == '-') && cur.Len() > 0:
			cur.WriteRune(r)
		case unicode.IsSpace(r):
			flush()
		default:
			flush()
			brk = true
		}
	}
	flush()
	// Trimming may leave a word of apostrophes empty.
	words := out[:0]
	for _, w := range out {
		if w.word != "" {
			words = append(words, w)
		}
	}
	return words
}

// tooShort reports a word of one or two letters in a script with case,
// which in most such languages is a particle ("и", "de", "la") rather than
// a word that carries meaning. A single Han character may be a whole word.
func tooShort(s string) bool {
	if utf8.RuneCountInString(s) > 2 {
		return false
	}
	for _, r := range s {
		if unicode.IsUpper(r) || unicode.IsLower(r) {
			return true
		}
	}
	return false
}

func hasLetter(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

// quote returns text on one line, without control characters, cut at a word
// boundary to about maxQuoteRunes.
func quote(text string) string {
	var b strings.Builder
	for _, f := range strings.Fields(text) {
		f = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) || r == utf8.RuneError {
				return -1
			}
			return r
		}, f)
		if f == "" {
			continue
		}
		if b.Len() > 0 && utf8.RuneCountInString(b.String())+1+utf8.RuneCountInString(f) > maxQuoteRunes {
			b.WriteString("…")
			break
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(cutRunes(f, maxQuoteRunes))
	}
	return b.String()
}

// cutRunes returns s cut to at most n runes.
func cutRunes(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

// splitTokens splits text into word-sized tokens: each is a word with the
// white space before it, so the tokens joined are the text again.
func splitTokens(text string) []string {
	var tokens []string
	start := 0
	inWord := false
	for i, r := range text {
		space := unicode.IsSpace(r)
		if space && inWord {
			tokens = append(tokens, text[start:i])
			start = i
		}
		inWord = !space
	}
	if start < len(text) {
		tokens = append(tokens, text[start:])
	}
	return tokens
}

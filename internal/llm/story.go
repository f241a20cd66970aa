package llm

import (
	"hash/fnv"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/storybot/storybot/internal/storyopt"
)

// The storyteller's grammar. A story has five parts, each a paragraph: an
// opening, the trouble, a journey, a turn and an ending. Each part is one
// opener followed by some of its other sentences, in order. In a template,
// [a|b|c] is one of the choices and {slot} is filled from the cast and the
// prompt; see storySlots.
type storyPart struct {
	openers []string
	middles []string
	closers []string // one of these ends the part, when there are any
	pick    int      // how many middles to use
}

var storyParts = []storyPart{
	{
		openers: []string{
			"In {place} there lived {Name}, {role}, who had never given much thought to {n1}.",
			"{Name} had been {role} in {place} for [eleven|twelve|nineteen|twenty-three] years, and in all that time nobody had said a word about {n1}.",
			"Nobody in {place} remembered exactly when {n1} first came up, but {Name}, {role}, remembered the morning it changed everything.",
			"The [autumn|winter|spring|summer] {Name} turned [thirty|forty|twenty-five|sixty], {n1} arrived in {place}, and nothing there was quite the same again.",
		},
		middles: []string{
			"Each morning {they} [walked|wandered] the same [crooked|narrow|cobbled] streets, [greeted|nodded to] the same neighbours, and went home to the same [quiet|small|crowded] house.",
			"{They} liked things to stay where they were put.",
			"People said {Name} had a good heart and a stubborn streak, and both were true.",
			"{Their} only company was {friend}, who had opinions about everything.",
			"The [wind|rain|fog] came in from the [sea|hills|marshes] most evenings, and {Name} liked to watch it from the window.",
		},
		pick: 2,
	},
	{
		openers: []string{
			"Then, one [grey|bright|windless|stormy] [morning|evening|afternoon], {n2} turned up where it had no business being: right on {Name}'s doorstep.",
			"It began with a rumour about {n2}, carried up from the [harbour|market|station] by a breathless [child|messenger|fisherman].",
			"The trouble started when {friend} came back from the [market|woods|shore] with news of {n2}.",
		},
		middles: []string{
			"At first {Name} tried to ignore it.",
			"{They} told {themselves} it was nothing, and did not believe it for a moment.",
			"By nightfall half of {place} was talking about it, and the other half was pretending not to listen.",
			"Somehow {n2} and {n1} belonged together, though {Name} could not yet say how.",
			"{They} {were} not the sort to sit and wait, and by morning {their} mind was made up.",
		},
		pick: 2,
	},
	{
		openers: []string{
			"So {Name} packed [a loaf of bread|a lantern|an old map|a warm coat] and set out toward the [hills|coast|forest|old quarry], with {friend} close behind.",
			"The road to the [old mill|far lighthouse|ruined chapel|northern bridge] was longer than anyone had promised, but {Name} took it anyway.",
		},
		middles: []string{
			"On the way {they} met a [tired|cheerful|suspicious] [peddler|ferryman|shepherd] who claimed to know all about {n2}, and who turned out to know nothing at all.",
			"Twice {they} nearly turned back, and twice {friend} found a reason to keep going.",
			"The nights were cold, and the stars hung very close.",
			"Little by little, {Name} began to suspect that {n3} was at the heart of it.",
		},
		pick: 2,
	},
	{
		openers: []string{
			"At last, [in a clearing|at the top of the hill|under the old bridge|at the end of the pier], {Name} found {n3}, and with it what {they} had been looking for.",
			"It was there, [in the dark|in the half-light|in the rain], face to face with {n3}, that everything became clear.",
		},
		middles: []string{
			"{N2} had never been the trouble at all; it had been waiting, the way {n1} had always waited, for someone patient enough to notice.",
			"{Name} laughed out loud, because the answer had been back in {place} the whole time.",
			"{They} understood at last what {n1} and {n3} had in common, and it was simpler than anyone had guessed.",
			"For a long moment nobody moved. Then {friend} [sighed|sneezed|laughed], and the spell was broken.",
			"{Name} said the word “{word}” aloud, and it sounded different now.",
		},
		pick: 2,
	},
	{
		openers: []string{
			"When {Name} came home, {place} looked smaller and kinder than before.",
			"The journey back took half as long, as journeys back always do.",
		},
		middles: []string{
			"{They} told the story to anyone who would listen, and to several people who would not.",
			"{N1} is still there, if you know where to look.",
			"In time, people stopped asking about {n2}, but {Name} never quite stopped wondering.",
		},
		closers: []string{
			"And on quiet evenings, {Name} and {friend} would sit by the window and watch the [light|fog|sea] come in, perfectly content.",
			"And that, more or less, is how it happened.",
			"It was, everyone agreed, the best thing to happen to {place} in years.",
		},
		pick: 1,
	},
}

// Sentences that bring more of the prompt in. noteSentence, in the second
// part, quotes a prompt without words (emoji, punctuation) as it was
// written; wordSentence, in the third, quotes a word of the prompt that is
// not among the story's nouns.
const (
	noteSentence = "Tucked into the door was a scrap of paper that said only: “{quote}”"
	wordSentence = "{They} kept thinking of one word, “{word}”, and could not say why it mattered."
)

// A hero is the story's main character, with the pronouns that go with
// the name and the verb that agrees with them.
type hero struct{ name, they, them, their, themselves, were string }

// A castMember is someone or something met in the story: the first
// mention introduces it, later ones use its short name.
type castMember struct{ intro, short string }

var (
	heroes = []hero{
		{"Mira", "she", "her", "her", "herself", "was"},
		{"Ines", "she", "her", "her", "herself", "was"},
		{"Lena", "she", "her", "her", "herself", "was"},
		{"Noor", "she", "her", "her", "herself", "was"},
		{"Hana", "she", "her", "her", "herself", "was"},
		{"Amara", "she", "her", "her", "herself", "was"},
		{"Tobin", "he", "him", "his", "himself", "was"},
		{"Oskar", "he", "him", "his", "himself", "was"},
		{"Ravi", "he", "him", "his", "himself", "was"},
		{"Elias", "he", "him", "his", "himself", "was"},
		{"Theo", "he", "him", "his", "himself", "was"},
		{"Jonah", "he", "him", "his", "himself", "was"},
		{"Robin", "they", "them", "their", "themselves", "were"},
		{"Kit", "they", "them", "their", "themselves", "were"},
		{"Sasha", "they", "them", "their", "themselves", "were"},
	}
	heroRoles = []string{"a lighthouse keeper", "a baker's apprentice", "a retired cartographer",
		"a night-train conductor", "a beekeeper", "a clockmaker", "a ferry pilot", "a librarian",
		"a shepherd", "a street musician"}
	places = []castMember{
		{"the harbour town of Lowmere", "Lowmere"},
		{"the hill city of Cassel", "Cassel"},
		{"the fishing village of Penhallow", "Penhallow"},
		{"the river town of Ashford", "Ashford"},
		{"the mountain village of Hollin", "Hollin"},
		{"the island town of Skerry", "Skerry"},
	}
	friends = []castMember{
		{"an old dog named Button", "Button"},
		{"a talkative crow called Pip", "Pip"},
		{"a cousin named Wren who asked too many questions", "Wren"},
		{"a cat called Moss with one white ear", "Moss"},
		{"a retired sailor named Bram", "Bram"},
	}
	fallbackNouns = []string{"the lantern", "the old map", "the silver key", "the locked door",
		"the song nobody could finish", "the empty boat"}
	fallbackWords = []string{"home", "tomorrow", "enough", "listen"}
)

// composeStory writes the story for prompt and seed. The same pair always
// gives the same story.
func composeStory(prompt string, seed int64) string {
	return tell(prompt, seed, storyopt.Options{}, "")
}

// tell writes the story for prompt, seed and options, or, when story is the
// text so far, what comes next: the same cast (the same prompt and seed
// casts it) in a new trouble, journey, turn and ending. The length picks
// how many sentences each part has; a story for children begins "Once upon
// a time" and ends "The end." Genre, tone and language are not used.
func tell(prompt string, seed int64, opts storyopt.Options, story string) string {
	terms := analyzePrompt(prompt)
	rng := newStoryRand(prompt, seed)
	c := newCasting(terms, rng)
	needNote := len(terms.phrases) == 0 && len(terms.words) == 0 && terms.quote != ""
	parts := storyParts
	if story != "" {
		// The cast was introduced already; the new parts take other turns.
		c.mentioned["place"], c.mentioned["friend"] = true, true
		rng = newStoryRand(prompt, seed^int64(len(story)))
		parts = storyParts[1:]
	}
	var length storyopt.Length
	if opts.Length != nil {
		length = *opts.Length
	}
	children := opts.Audience != nil && *opts.Audience == storyopt.AudienceChildren

	var out strings.Builder
	if story != "" {
		out.WriteString("\n\n")
	}
	for i, part := range parts {
		if story != "" {
			i++ // parts are numbered as in a whole story
		}
		pick := part.pick
		switch length {
		case storyopt.LengthShort:
			pick = 0
		case storyopt.LengthLong:
			pick = len(part.middles)
		}
		sentences := []string{pickOne(rng, part.openers)}
		if i == 1 && needNote {
			sentences = append(sentences, noteSentence)
		}
		if i == 2 && c.promptWord {
			sentences = append(sentences, wordSentence)
		}
		for _, j := range pickOrdered(rng, len(part.middles), pick) {
			sentences = append(sentences, part.middles[j])
		}
		if len(part.closers) > 0 {
			sentences = append(sentences, pickOne(rng, part.closers))
		}
		if i > 0 && out.Len() > 0 && !strings.HasSuffix(out.String(), "\n\n") {
			out.WriteString("\n\n")
		}
		for j, sentence := range sentences {
			text := c.expand(sentence, rng)
			if j == 0 && i == 0 && children {
				text = "Once upon a time, " + uncapitalize(text, c.slots["Name"])
			}
			if j > 0 {
				out.WriteByte(' ')
			}
			out.WriteString(text)
		}
	}
	if children {
		out.WriteString(" The end.")
	}
	return out.String()
}

// title names a story of prompt and seed after its hero and first noun.
func title(prompt string, seed int64) string {
	c := newCasting(analyzePrompt(prompt), newStoryRand(prompt, seed))
	return c.slots["Name"] + " and " + c.slots["n1"]
}

// uncapitalize lower-cases the first letter of a sentence that does not
// begin with a name.
func uncapitalize(s, name string) string {
	if strings.HasPrefix(s, name) {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}

// casting holds what fills a story's slots: its hero, place and friend
// chosen at random, its nouns and word taken from the prompt.
type casting struct {
	promptWord bool // the {word} slot holds a word of the prompt
	slots      map[string]string
	members    map[string]castMember // filled by intro on first mention, then by short name
	mentioned  map[string]bool
}

func newCasting(terms promptTerms, rng *storyRand) *casting {
	h := heroes[rng.intn(len(heroes))]
	c := &casting{
		slots: map[string]string{
			"Name":       h.name,
			"role":       pickOne(rng, heroRoles),
			"they":       h.they,
			"They":       capitalize(h.they),
			"them":       h.them,
			"their":      h.their,
			"Their":      capitalize(h.their),
			"themselves": h.themselves,
			"were":       h.were,
			"quote":      terms.quote,
		},
		members: map[string]castMember{
			"place":  places[rng.intn(len(places))],
			"friend": friends[rng.intn(len(friends))],
		},
		mentioned: map[string]bool{},
	}

	// Three nouns. An English prompt's noun phrases come first, then stock
	// nouns, and its other words are quoted as words: they may be verbs. In
	// a prompt without phrases (other languages, lists of words) the words
	// serve as the nouns.
	var nouns []string
	words := terms.words
	if len(terms.phrases) > 0 {
		for _, ph := range terms.phrases {
			nouns = append(nouns, asNoun(ph))
		}
	} else {
		for len(nouns) < 3 && len(words) > 0 {
			nouns = append(nouns, asNoun(words[0]))
			words = words[1:]
		}
	}
	for _, i := range pickOrdered(rng, len(fallbackNouns), 3) {
		if len(nouns) >= 3 {
			break
		}
		nouns = append(nouns, fallbackNouns[i])
	}
	for i, n := range nouns[:3] {
		key := string(rune('1' + i))
		c.slots["n"+key] = n
		c.slots["N"+key] = capitalize(n)
	}
	if len(words) > 0 {
		c.slots["word"] = words[rng.intn(len(words))]
		c.promptWord = true
	} else {
		c.slots["word"] = pickOne(rng, fallbackWords)
	}
	return c
}

// expand fills a template: first its [a|b] choices, then its {slot}s. Slot
// values are inserted as they are, never read as template text.
func (c *casting) expand(tmpl string, rng *storyRand) string {
	var chosen strings.Builder
	for {
		open := strings.IndexByte(tmpl, '[')
		if open < 0 {
			chosen.WriteString(tmpl)
			break
		}
		end := open + strings.IndexByte(tmpl[open:], ']')
		chosen.WriteString(tmpl[:open])
		chosen.WriteString(pickOne(rng, strings.Split(tmpl[open+1:end], "|")))
		tmpl = tmpl[end+1:]
	}
	text := chosen.String()
	var out strings.Builder
	for {
		open := strings.IndexByte(text, '{')
		if open < 0 {
			out.WriteString(text)
			return out.String()
		}
		end := open + strings.IndexByte(text[open:], '}')
		out.WriteString(text[:open])
		out.WriteString(c.fill(text[open+1 : end]))
		text = text[end+1:]
	}
}

func (c *casting) fill(slot string) string {
	if m, ok := c.members[slot]; ok {
		if c.mentioned[slot] {
			return m.short
		}
		c.mentioned[slot] = true
		return m.intro
	}
	return c.slots[slot]
}

// asNoun puts "the" before a lower-case word of a script with case, so that
// it reads as a noun ("the red dragon"); names and words of scripts without
// case stay as written.
func asNoun(phrase string) string {
	r, _ := utf8.DecodeRuneInString(phrase)
	if unicode.IsLower(r) {
		return "the " + phrase
	}
	return phrase
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// storyRand is a small random number generator (SplitMix64) of its own, so
// that a story stays the same for a prompt and seed whatever the Go release.
type storyRand struct{ state uint64 }

func newStoryRand(prompt string, seed int64) *storyRand {
	h := fnv.New64a()
	h.Write([]byte(prompt))
	return &storyRand{state: h.Sum64() ^ uint64(seed)*0x9e3779b97f4a7c15}
}

func (r *storyRand) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a number in [0, n). Its slight bias does not matter here.
func (r *storyRand) intn(n int) int { return int(r.next() % uint64(n)) }

func pickOne(rng *storyRand, choices []string) string { return choices[rng.intn(len(choices))] }

// pickOrdered picks k distinct indexes below n and returns them in order.
func pickOrdered(rng *storyRand, n, k int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	for i := 0; i < k && i < n; i++ {
		j := i + rng.intn(n-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	picked := idx[:min(k, n)]
	slices.Sort(picked)
	return picked
}

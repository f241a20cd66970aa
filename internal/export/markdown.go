package export

import "strings"

// Markdown writes d as Markdown: the title as a heading, the prompt as a
// quotation, the options as a list, a rule, then the text exactly as it
// was written (so that what follows the first "\n\n---\n\n" is the text).
func Markdown(d *Document) string {
	var b strings.Builder
	b.WriteString("# " + escapeLine(d.title()) + "\n\n")
	for line := range strings.SplitSeq(strings.TrimSpace(d.Prompt), "\n") {
		b.WriteString(strings.TrimRight("> "+line, " ") + "\n")
	}
	if opts := d.optionLines(); len(opts) > 0 {
		b.WriteString("\n")
		for _, o := range opts {
			b.WriteString("- " + escapeLine(o) + "\n")
		}
	}
	b.WriteString(markdownRule)
	b.WriteString(d.Text)
	if !strings.HasSuffix(d.Text, "\n") {
		b.WriteString("\n")
	}
	return b.String()
}

// markdownRule separates the head of an export from the story's text.
const markdownRule = "\n---\n\n"

// escapeLine keeps a heading or list item one line, and its Markdown
// characters literal.
func escapeLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return markdownEscaper.Replace(s)
}

var markdownEscaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`, "<", `\<`, "#", `\#`)

//go:build linux

package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
)

// table is a titled grid, printed as aligned plain text or as Markdown.
type table struct {
	title  string
	header []string
	rows   [][]string
	notes  []string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) note(format string, args ...any) {
	t.notes = append(t.notes, fmt.Sprintf(format, args...))
}

// text renders t for a terminal.
func (t *table) text() string {
	var b strings.Builder
	b.WriteString(t.title + "\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  "+strings.Join(t.header, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, "  "+strings.Join(r, "\t"))
	}
	tw.Flush()
	for _, n := range t.notes {
		b.WriteString("  " + n + "\n")
	}
	return b.String()
}

// markdown renders t as a Markdown section.
func (t *table) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#### %s\n\n", t.title)
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	row := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + cell(c) + " |")
		}
		b.WriteString("\n")
	}
	row(t.header)
	b.WriteString("|")
	for i := range t.header {
		if i == 0 {
			b.WriteString(" --- |")
		} else {
			b.WriteString(" ---: |")
		}
	}
	b.WriteString("\n")
	for _, r := range t.rows {
		row(r)
	}
	if len(t.notes) > 0 {
		b.WriteString("\n")
		for _, n := range t.notes {
			b.WriteString("- " + n + "\n")
		}
	}
	b.WriteString("\n")
	return b.String()
}

package export_test

import (
	"archive/zip"
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/internal/export"
	"github.com/storybot/storybot/internal/export/epubchecktest"
	"github.com/storybot/storybot/internal/storyopt"
)

func ptr[T any](v T) *T { return &v }

var documents = map[string]*export.Document{
	"English": {
		ID: "st_1", Title: "The *Keeper* of [Letters] #1", Prompt: "A keeper\nof letters",
		Options: storyopt.Options{Audience: ptr(storyopt.AudienceAdults), Genre: ptr("fable"), Language: ptr("en")},
		Text:    "It began <here> & there.\n\n---\n\nA rule in the text,\nand a second line.\n\n\n# not a heading",
	},
	"Traditional Chinese": {
		ID: "st_2", Title: "燈塔的信", Prompt: "一位收集遺失信件的燈塔看守人",
		Options: storyopt.Options{Language: ptr("zh-TW"), Length: ptr(storyopt.LengthShort)},
		Text:    "從前，有一位燈塔看守人。\n\n她讀了每一封信。",
	},
	"Arabic": {
		ID: "st_3", Prompt: "حارس منارة", Options: storyopt.Options{Language: ptr("ar")},
		Text: "كان يا ما كان، حارس منارة يجمع الرسائل.",
	},
	"no language, odd text": {
		ID: "st_4", Prompt: "x", Text: "control \x01 characters\r\nand ]]> too",
	},
}

// TestMarkdownRoundTripsTheText: what follows the first rule is the text,
// exactly.
func TestMarkdownRoundTripsTheText(t *testing.T) {
	for name, d := range documents {
		t.Run(name, func(t *testing.T) {
			md := export.Markdown(d)
			head, text, ok := strings.Cut(md, "\n---\n\n")
			if !ok || strings.TrimSuffix(text, "\n") != d.Text {
				t.Fatalf("text not round-tripped:\n%s", md)
			}
			if !strings.HasPrefix(head, "# ") || strings.Count(head, "\n# ") != 0 {
				t.Errorf("head:\n%s", head)
			}
			for line := range strings.SplitSeq(d.Prompt, "\n") {
				if !strings.Contains(head, "> "+line) {
					t.Errorf("head lacks the prompt line %q:\n%s", line, head)
				}
			}
			if d.Options.Language != nil && !strings.Contains(head, "- Language: "+*d.Options.Language) {
				t.Errorf("head lacks the language:\n%s", head)
			}
		})
	}
}

// TestEPUBPassesEpubcheck writes each document as an EPUB and has
// epubcheck check it.
func TestEPUBPassesEpubcheck(t *testing.T) {
	for name, d := range documents {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // epubcheck takes seconds
			d := *d
			d.Modified = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
			epub, err := export.EPUB(&d)
			if err != nil {
				t.Fatal(err)
			}
			zr, err := zip.NewReader(bytes.NewReader(epub), int64(len(epub)))
			if err != nil {
				t.Fatal(err)
			}
			if f := zr.File[0]; f.Name != "mimetype" || f.Method != zip.Store || len(f.Extra) != 0 {
				t.Errorf("first entry %s, method %d", f.Name, f.Method)
			}
			page := read(t, zr, "EPUB/story.xhtml")
			rtl := strings.Contains(page, `dir="rtl"`)
			if want := name == "Arabic"; rtl != want {
				t.Errorf("right to left: %v, want %v", rtl, want)
			}
			if name == "Traditional Chinese" && (!strings.Contains(page, "她讀了每一封信。") || !strings.Contains(read(t, zr, "EPUB/package.opf"), "<dc:language>zh-TW</dc:language>")) {
				t.Errorf("CJK text or language lost:\n%s", page)
			}
			epubchecktest.Check(t, epub)
		})
	}
}

func read(t *testing.T, zr *zip.Reader, name string) string {
	t.Helper()
	f, err := zr.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

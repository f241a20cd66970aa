package export

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"strings"
	"time"

	"golang.org/x/text/language"
)

// EPUB writes d as an EPUB 3 book: the mimetype entry first and stored
// uncompressed, the container, the package document (its dc:language the
// story's, "und" when it has none), a navigation document and one XHTML
// page: the title, the prompt, the options, then the text in paragraphs,
// right to left for languages written so.
func EPUB(d *Document) ([]byte, error) {
	lang := "und"
	if d.Options.Language != nil {
		lang = *d.Options.Language
	}
	dir := "ltr"
	if rightToLeft(lang) {
		dir = "rtl"
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	mt, err := zw.CreateHeader(&zip.FileHeader{Name: "mimetype", Method: zip.Store})
	if err != nil {
		return nil, err
	}
	if _, err := mt.Write([]byte("application/epub+zip")); err != nil {
		return nil, err
	}
	files := []struct{ name, body string }{
		{"META-INF/container.xml", containerXML},
		{"EPUB/package.opf", packageDocument(d, lang)},
		{"EPUB/nav.xhtml", page(lang, dir, d.title(), `<nav epub:type="toc" id="toc"><h1>`+esc(d.title())+`</h1><ol><li><a href="story.xhtml">`+esc(d.title())+`</a></li></ol></nav>`)},
		{"EPUB/story.xhtml", page(lang, dir, d.title(), storyBody(d))},
	}
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: d.Modified})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write([]byte(f.body)); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

const containerXML = `<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles>
    <rootfile full-path="EPUB/package.opf" media-type="application/oebps-package+xml"/>
  </rootfiles>
</container>
`

func packageDocument(d *Document, lang string) string {
	modified := d.Modified.UTC()
	if modified.IsZero() {
		modified = time.Now().UTC()
	}
	return `<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id" xml:lang="` + esc(lang) + `">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="id">urn:storybot:` + esc(d.ID) + `</dc:identifier>
    <dc:title>` + esc(d.title()) + `</dc:title>
    <dc:language>` + esc(lang) + `</dc:language>
    <meta property="dcterms:modified">` + modified.Format("2006-01-02T15:04:05Z") + `</meta>
  </metadata>
  <manifest>
    <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
    <item id="story" href="story.xhtml" media-type="application/xhtml+xml"/>
  </manifest>
  <spine>
    <itemref idref="story"/>
  </spine>
</package>
`
}

// page is an XHTML content document.
func page(lang, dir, title, body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" xml:lang="` + esc(lang) + `" lang="` + esc(lang) + `" dir="` + dir + `">
<head><meta charset="utf-8"/><title>` + esc(title) + `</title></head>
<body>
` + body + `
</body>
</html>
`
}

// storyBody is the story page's body: a paragraph per block of the text
// (blocks are separated by blank lines, lines within one by <br/>).
func storyBody(d *Document) string {
	var b strings.Builder
	b.WriteString("<h1>" + esc(d.title()) + "</h1>\n")
	if p := strings.TrimSpace(d.Prompt); p != "" {
		b.WriteString("<blockquote><p>" + lines(p) + "</p></blockquote>\n")
	}
	if opts := d.optionLines(); len(opts) > 0 {
		b.WriteString("<ul>")
		for _, o := range opts {
			b.WriteString("<li>" + esc(o) + "</li>")
		}
		b.WriteString("</ul>\n")
	}
	for block := range strings.SplitSeq(strings.ReplaceAll(d.Text, "\r\n", "\n"), "\n\n") {
		if block = strings.TrimSpace(block); block != "" {
			b.WriteString("<p>" + lines(block) + "</p>\n")
		}
	}
	return b.String()
}

func lines(s string) string {
	parts := strings.Split(s, "\n")
	for i, p := range parts {
		parts[i] = esc(p)
	}
	return strings.Join(parts, "<br/>")
}

// esc escapes s for XML text and attributes; characters XML cannot hold
// become U+FFFD.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// rightToLeft reports whether the language of tag is written right to left.
func rightToLeft(tag string) bool {
	t, err := language.Parse(tag)
	if err != nil {
		return false
	}
	script, _ := t.Script()
	switch script.String() {
	case "Arab", "Hebr", "Thaa", "Syrc", "Nkoo", "Adlm", "Rohg", "Mand", "Samr", "Mend":
		return true
	}
	return false
}

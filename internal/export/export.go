// Package export serves stories as files to take away: Markdown
// (GET /stories/{id}.md) and EPUB 3 (GET /stories/{id}.epub), to the
// story's owner (session cookie or bearer token) or to anyone holding its
// share token (?share=...). Anything else is 404, with no hint of whether
// the story exists.
package export

import (
	"context"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/storybot/storybot/ent"
	"github.com/storybot/storybot/internal/auth"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/story"
	"github.com/storybot/storybot/internal/storyopt"
	"github.com/storybot/storybot/internal/telemetry"
	"github.com/storybot/storybot/internal/viewer"
)

// Pattern is the route the Handler serves, for http.ServeMux.
const Pattern = "GET /stories/{file}"

// Authenticator resolves a session or API token to its viewer;
// auth.Accounts is one.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*viewer.Viewer, error)
}

// Handler serves the exports.
type Handler struct {
	client  *ent.Client
	stories *story.Service
	auth    Authenticator
	log     *slog.Logger
}

// New returns a Handler reading stories with client and stories, and
// credentials with a.
func New(client *ent.Client, stories *story.Service, a Authenticator, log *slog.Logger) *Handler {
	return &Handler{client: client, stories: stories, auth: a, log: log}
}

// A format writes a story as a file.
type format struct {
	contentType string
	write       func(doc *Document) ([]byte, error)
}

var formats = map[string]format{
	".md":   {"text/markdown; charset=utf-8", func(d *Document) ([]byte, error) { return []byte(Markdown(d)), nil }},
	".epub": {"application/epub+zip", EPUB},
}

// errNotFound is every refusal: the answer never says why.
var errNotFound = errors.New("not found")

// ServeHTTP serves GET /stories/{id}.md and /stories/{id}.epub (see the
// package comment); any other file name is 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	dot := strings.LastIndexByte(file, '.')
	if dot < 0 {
		http.NotFound(w, r)
		return
	}
	f, ok := formats[file[dot:]]
	if !ok {
		http.NotFound(w, r)
		return
	}
	doc, err := h.document(r, pulid.ID(file[:dot]))
	if err != nil {
		if !errors.Is(err, errNotFound) {
			h.log.ErrorContext(r.Context(), "exporting a story failed", telemetry.Error(err))
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		http.NotFound(w, r)
		return
	}
	body, err := f.write(doc)
	if err != nil {
		h.log.ErrorContext(r.Context(), "exporting a story failed", telemetry.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": doc.fileName() + file[dot:]}))
	w.Header().Set("Cache-Control", "private, no-store")
	_, _ = w.Write(body)
}

// document reads the story id for the request's credentials or share token.
func (h *Handler) document(r *http.Request, id pulid.ID) (*Document, error) {
	if id.Prefix() != pulid.StoryPrefix {
		return nil, errNotFound
	}
	ctx := viewer.WithGrants(r.Context())
	var (
		st  *ent.Story
		err error
	)
	if token := r.URL.Query().Get("share"); token != "" {
		st, err = h.stories.Shared(ctx, token)
		if err != nil {
			return nil, err
		}
		if st == nil || st.ID != id {
			return nil, errNotFound
		}
	} else {
		v := h.viewer(r)
		if v == nil {
			return nil, errNotFound
		}
		ctx = viewer.NewContext(ctx, v)
		st, err = h.client.Story.Get(ctx, id)
		if ent.IsNotFound(err) {
			return nil, errNotFound
		}
		if err != nil {
			return nil, err
		}
	}
	text, err := h.stories.Text(ctx, st)
	if err != nil {
		return nil, err
	}
	p, err := st.QueryPrompt().Only(ctx)
	if err != nil {
		return nil, err
	}
	doc := &Document{ID: string(st.ID), Prompt: p.Content, Options: st.Options, Text: text, Modified: st.UpdatedAt}
	if st.Title != nil {
		doc.Title = *st.Title
	}
	return doc, nil
}

// viewer is who the request's credentials name, or nil: a bearer token,
// else the session cookie.
func (h *Handler) viewer(r *http.Request) *viewer.Viewer {
	token := ""
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, t, ok := strings.Cut(strings.TrimSpace(a), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return nil
		}
		token = strings.TrimSpace(t)
	} else if c, err := r.Cookie(auth.SessionCookie); err == nil {
		token = c.Value
	}
	if token == "" {
		return nil
	}
	v, err := h.auth.Authenticate(r.Context(), token)
	if err != nil {
		return nil
	}
	return v
}

// Document is a story as it is exported.
type Document struct {
	ID       string
	Title    string // "" when the story has none
	Prompt   string
	Options  storyopt.Options
	Text     string
	Modified time.Time
}

// title is the document's title, or a stand-in.
func (d *Document) title() string {
	if t := strings.Join(strings.Fields(d.Title), " "); t != "" {
		return t
	}
	return "Untitled story"
}

// fileName is a name for the file: the title's letters and digits, else
// the story's ID.
func (d *Document) fileName() string {
	var b strings.Builder
	dash := false
	for _, r := range d.Title {
		switch {
		case strings.ContainsRune(`/\:*?"<>|`, r) || r < ' ':
			continue
		case r == ' ':
			dash = b.Len() > 0
			continue
		}
		if dash {
			b.WriteByte('-')
			dash = false
		}
		b.WriteRune(r)
		if b.Len() > 80 {
			break
		}
	}
	if b.Len() == 0 {
		return d.ID
	}
	return b.String()
}

// optionLines lists the options set, as "Name: value".
func (d *Document) optionLines() []string {
	o := d.Options
	var lines []string
	add := func(name, v string) { lines = append(lines, name+": "+v) }
	if o.Audience != nil {
		add("Audience", strings.ToLower(string(*o.Audience)))
	}
	if o.Genre != nil {
		add("Genre", *o.Genre)
	}
	if o.Tone != nil {
		add("Tone", *o.Tone)
	}
	if o.Length != nil {
		add("Length", strings.ToLower(string(*o.Length)))
	}
	if o.Language != nil {
		add("Language", *o.Language)
	}
	return lines
}

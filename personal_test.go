package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storybot/storybot/internal/database/dbtest"
	"github.com/storybot/storybot/internal/export/epubchecktest"
)

// Tests of personalised stories (issue 16): options, continuation,
// regeneration, titles and export.

const optionFields = `options { audience genre tone length language }`

type storyOptions struct {
	Audience, Genre, Tone, Length, Language *string
}

func (s *server) createPrompt(content string, options map[string]any) (string, storyOptions) {
	s.t.Helper()
	var out struct {
		CreatePrompt struct {
			ID      string
			Options storyOptions
		}
	}
	s.mustGQL(`mutation($c: String!, $o: StoryOptionsInput) { createPrompt(input: {content: $c, options: $o}) { id `+optionFields+` } }`,
		map[string]any{"c": content, "o": options}, &out)
	return out.CreatePrompt.ID, out.CreatePrompt.Options
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func TestStoryOptions(t *testing.T) {
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := map[string]string{"STORYTELLER_TOKENS_PER_SECOND": "0"}
			if dialect == "postgres" {
				env["DATABASE_URL"] = dbtest.PostgresURL(t)
			}
			s := start(t, env)
			id, opts := s.createPrompt("A lighthouse keeper who collects lost letters",
				map[string]any{"audience": "CHILDREN", "genre": "  fairy tale ", "length": "SHORT", "language": "zh-tw"})
			if str(opts.Audience) != "CHILDREN" || str(opts.Genre) != "fairy tale" || str(opts.Length) != "SHORT" || str(opts.Language) != "zh-TW" || opts.Tone != nil {
				t.Errorf("created options: %+v", opts)
			}

			// Bad options are BAD_USER_INPUT, and store nothing.
			count := func() int {
				var out struct{ Prompts struct{ TotalCount int } }
				s.mustGQL(`{ prompts { totalCount } }`, nil, &out)
				return out.Prompts.TotalCount
			}
			before := count()
			for name, o := range map[string]map[string]any{
				"bad language tag": {"language": "english please"},
				"no language":      {"language": "und"},
				"unknown enum":     {"audience": "ELDERS"},
				"over-long genre":  {"genre": strings.Repeat("g", 61)},
				"two-line tone":    {"tone": "dark\nstormy"},
			} {
				var out any
				errs := s.gql(`mutation($o: StoryOptionsInput) { createPrompt(input: {content: "x", options: $o}) { id } }`, map[string]any{"o": o}, &out)
				if code(errs) != "BAD_USER_INPUT" {
					t.Errorf("%s: %+v, want BAD_USER_INPUT", name, errs)
				}
				errs = s.gql(`mutation($p: ID!, $o: StoryOptionsInput) { generateStory(input: {promptID: $p, options: $o}) { id } }`, map[string]any{"p": id, "o": o}, &out)
				if code(errs) != "BAD_USER_INPUT" {
					t.Errorf("generateStory with %s: %+v, want BAD_USER_INPUT", name, errs)
				}
				errs = s.gql(`mutation($p: ID!, $o: StoryOptionsInput) { updatePrompt(id: $p, input: {options: $o}) { id } }`, map[string]any{"p": id, "o": o}, &out)
				if code(errs) != "BAD_USER_INPUT" {
					t.Errorf("updatePrompt with %s: %+v, want BAD_USER_INPUT", name, errs)
				}
			}
			if n := count(); n != before {
				t.Errorf("bad options stored prompts: %d, then %d", before, n)
			}
			var stories struct{ Stories struct{ TotalCount int } }
			s.mustGQL(`{ stories { totalCount } }`, nil, &stories)
			if stories.Stories.TotalCount != 0 {
				t.Errorf("bad options stored %d stories", stories.Stories.TotalCount)
			}

			// Update: given fields replace, omitted keep, null clears.
			var upd struct {
				UpdatePrompt struct{ Options storyOptions }
			}
			s.mustGQL(`mutation($p: ID!) { updatePrompt(id: $p, input: {options: {tone: "gentle", genre: null}}) { `+optionFields+` } }`, map[string]any{"p": id}, &upd)
			if o := upd.UpdatePrompt.Options; str(o.Tone) != "gentle" || o.Genre != nil || str(o.Audience) != "CHILDREN" || str(o.Language) != "zh-TW" {
				t.Errorf("updated options: %+v", o)
			}

			// A story records its prompt's options with its own over them;
			// the length sets its maxTokens unless it gives one.
			var g struct {
				GenerateStory struct {
					ID      string
					Options storyOptions
				}
			}
			s.mustGQL(`mutation($p: ID!) { generateStory(input: {promptID: $p, options: {audience: ADULTS, language: null}}) { id `+optionFields+` } }`, map[string]any{"p": id}, &g)
			if o := g.GenerateStory.Options; str(o.Audience) != "ADULTS" || o.Language != nil || str(o.Tone) != "gentle" || str(o.Length) != "SHORT" {
				t.Errorf("story options: %+v", o)
			}
			short := s.waitFor(g.GenerateStory.ID, func(st storedStory) bool { return st.Status == "COMPLETED" })
			s.mustGQL(`mutation($p: ID!) { generateStory(input: {promptID: $p, options: {length: LONG}}) { id } }`, map[string]any{"p": id}, &g)
			long := s.waitFor(g.GenerateStory.ID, func(st storedStory) bool { return st.Status == "COMPLETED" })
			if short.TokenCount >= long.TokenCount {
				t.Errorf("a SHORT story has %d tokens, a LONG one %d", short.TokenCount, long.TokenCount)
			}
			if !strings.HasPrefix(long.Text, "Once upon a time") {
				t.Errorf("the storyteller ignored the audience CHILDREN: %.60q", long.Text)
			}
			var cut struct{ GenerateStory struct{ ID string } }
			s.mustGQL(`mutation($p: ID!) { generateStory(input: {promptID: $p, maxTokens: 7, options: {length: LONG}}) { id } }`, map[string]any{"p": id}, &cut)
			if st := s.waitFor(cut.GenerateStory.ID, func(st storedStory) bool { return st.Status == "COMPLETED" }); st.TokenCount != 7 {
				t.Errorf("an explicit maxTokens of 7 wrote %d tokens", st.TokenCount)
			}
		})
	}
}

// continueStory starts a continuation and returns the story as it answered.
func (s *server) continueStory(id string, input map[string]any) (storedStory, []gqlError) {
	s.t.Helper()
	var out struct{ ContinueStory storedStory }
	errs := s.gql(`mutation($id: ID!, $in: ContinueStoryInput) { continueStory(id: $id, input: $in) { `+storyFields+` } }`,
		map[string]any{"id": id, "in": input}, &out)
	return out.ContinueStory, errs
}

// TestContinueStory continues finished stories while subscribers follow
// them over every transport, on one replica and across two: the stored
// text is the old text and then exactly what the stream brought.
func TestContinueStory(t *testing.T) {
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := map[string]string{"STORYTELLER_TOKENS_PER_SECOND": "300"}
			writer := start(t, env)
			reader := writer
			if dialect == "postgres" {
				env["DATABASE_URL"] = dbtest.PostgresURL(t)
				writer = start(t, env)
				reader = launch(t, env).as(writer.token) // another replica
			}
			for name, subscribe := range opTransports {
				t.Run(name, func(t *testing.T) {
					st := writer.generate("A beekeeper whose bees spell words", 40)
					old := writer.waitFor(st.ID, func(st storedStory) bool { return st.Status == "COMPLETED" })
					// A client that read the finished story holds its last cursor.
					before := subscribe(t, reader, resumeOp(st.ID, ""), nil)
					if len(before.events) != 1 || before.events[0].Delta != old.Text {
						t.Fatalf("the finished story: %+v", before.events)
					}
					cont, errs := writer.continueStory(st.ID, map[string]any{"maxTokens": 60, "instruction": "The bees spell a warning."})
					if len(errs) > 0 {
						t.Fatal(errs)
					}
					if cont.Status != "PENDING" && cont.Status != "GENERATING" || cont.Text != old.Text {
						t.Errorf("continueStory answered %s with %q", cont.Status, cont.Text)
					}
					// Continuing a running story is refused.
					if _, errs := writer.continueStory(st.ID, nil); code(errs) != "BAD_USER_INPUT" {
						t.Errorf("continuing a running story: %+v", errs)
					}
					res := subscribe(t, reader, storyOp(st.ID), nil)
					stored := checkStream(t, reader, res, st.ID, "COMPLETED")
					if !strings.HasPrefix(stored.Text, old.Text) || len(stored.Text) <= len(old.Text) {
						t.Fatalf("continued text does not extend the old:\nold %q\nnew %q", old.Text, stored.Text)
					}
					if stored.TokenCount <= old.TokenCount || stored.TokenCount > old.TokenCount+60 {
						t.Errorf("tokens: %d before, %d after a continuation of at most 60", old.TokenCount, stored.TokenCount)
					}
					// Resuming after the cursor of the old text gives exactly
					// the new text.
					after := subscribe(t, reader, resumeOp(st.ID, before.events[0].Cursor), nil)
					if len(after.events) == 0 || old.Text+after.text() != stored.Text {
						t.Errorf("resumed after the old text's cursor: %q + %q, stored %q", old.Text, after.text(), stored.Text)
					}
				})
			}
			t.Run("another user's story", func(t *testing.T) {
				st := writer.generate("A story of mine", 5)
				writer.waitFor(st.ID, func(st storedStory) bool { return st.Status == "COMPLETED" })
				other := writer.as(writer.newUser("other@example.com"))
				if _, errs := other.continueStory(st.ID, nil); code(errs) != "NOT_FOUND" {
					t.Errorf("continuing another user's story: %+v", errs)
				}
				if _, errs := writer.continueStory(st.ID, map[string]any{"maxTokens": 0}); code(errs) != "BAD_USER_INPUT" {
					t.Errorf("maxTokens 0: %+v", errs)
				}
			})
		})
	}
}

// TestContinueDuringPostgresRestart continues a story while Postgres
// restarts: the text from before the continuation stays exactly as it was.
func TestContinueDuringPostgresRestart(t *testing.T) {
	pg := startPrivatePostgres(t)
	s := start(t, map[string]string{"DATABASE_URL": pg.url(), "STORYTELLER_TOKENS_PER_SECOND": "40"})
	st := s.generate("A ferry pilot who crosses a river of fog", 20)
	old := s.waitFor(st.ID, func(st storedStory) bool { return st.Status == "COMPLETED" })
	if _, errs := s.continueStory(st.ID, map[string]any{"maxTokens": 80}); len(errs) > 0 {
		t.Fatal(errs)
	}
	s.waitFor(st.ID, func(st storedStory) bool { return st.TokenCount > old.TokenCount })
	pg.ctl("restart", "-m", "fast")
	var stored storedStory
	for i := 0; ; i++ {
		var out struct{ Node storedStory }
		errs := s.gql(`query($id: ID!) { node(id: $id) { ... on Story { `+storyFields+` } } }`, map[string]any{"id": st.ID}, &out)
		if len(errs) == 0 && out.Node.Status == "COMPLETED" {
			stored = out.Node
			break
		}
		if i > 1500 {
			t.Fatalf("the continued story did not complete: %+v %+v", out.Node, errs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.HasPrefix(stored.Text, old.Text) || len(stored.Text) <= len(old.Text) {
		t.Fatalf("after the restart:\nold %q\nnow %q", old.Text, stored.Text)
	}
}

func TestRegenerateKeepsHistory(t *testing.T) {
	s := start(t, map[string]string{"STORYTELLER_TOKENS_PER_SECOND": "0"})
	id, _ := s.createPrompt("A night-train conductor who never sleeps", map[string]any{"tone": "wistful"})
	var g struct{ GenerateStory struct{ ID string } }
	s.mustGQL(`mutation($p: ID!) { generateStory(input: {promptID: $p, maxTokens: 30, temperature: 0.5, options: {length: SHORT}}) { id } }`, map[string]any{"p": id}, &g)
	first := s.waitFor(g.GenerateStory.ID, func(st storedStory) bool { return st.Status == "COMPLETED" })
	type version struct {
		ID          string
		Temperature *float64
		Options     storyOptions
	}
	var r struct{ RegenerateStory version }
	s.mustGQL(`mutation($id: ID!) { regenerateStory(id: $id) { id temperature `+optionFields+` } }`, map[string]any{"id": first.ID}, &r)
	second := s.waitFor(r.RegenerateStory.ID, func(st storedStory) bool { return st.Status == "COMPLETED" })
	if second.ID == first.ID || second.TokenCount > 30 {
		t.Errorf("regenerated: %+v", second)
	}
	if o := r.RegenerateStory.Options; str(o.Tone) != "wistful" || str(o.Length) != "SHORT" || r.RegenerateStory.Temperature == nil || *r.RegenerateStory.Temperature != 0.5 {
		t.Errorf("regenerated story's options: %+v, temperature %v", o, r.RegenerateStory.Temperature)
	}
	var p struct {
		Node struct {
			Stories struct {
				TotalCount int
				Edges      []struct{ Node struct{ ID string } }
			}
		}
	}
	s.mustGQL(`query($id: ID!) { node(id: $id) { ... on Prompt { stories { totalCount edges { node { id } } } } } }`, map[string]any{"id": id}, &p)
	if got := p.Node.Stories; got.TotalCount != 2 || !slices.ContainsFunc(got.Edges, func(e struct{ Node struct{ ID string } }) bool { return e.Node.ID == first.ID }) ||
		!slices.ContainsFunc(got.Edges, func(e struct{ Node struct{ ID string } }) bool { return e.Node.ID == second.ID }) {
		t.Errorf("the prompt's stories: %+v", got)
	}
	other := s.as(s.newUser("other@example.com"))
	var out any
	if errs := other.gql(`mutation($id: ID!) { regenerateStory(id: $id) { id } }`, map[string]any{"id": first.ID}, &out); code(errs) != "NOT_FOUND" {
		t.Errorf("regenerating another user's story: %+v", errs)
	}
}

// fakeModel is an OpenAI-compatible model server: it streams a fixed
// story, and answers requests for a title (max_tokens 32) with a title.
type fakeModel struct {
	*httptest.Server
	mu       sync.Mutex
	requests []map[string]any
}

const fakeTitle = "The Keeper of Letters"

func newFakeModel(t *testing.T) *fakeModel {
	m := &fakeModel{}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		m.mu.Lock()
		m.requests = append(m.requests, req)
		m.mu.Unlock()
		words := strings.Fields("Once there was a keeper of letters, and every letter found its way home.")
		if req["max_tokens"] == float64(32) {
			words = []string{`"` + fakeTitle + `."`}
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for i, word := range words {
			if i > 0 {
				word = " " + word
			}
			chunk, _ := json.Marshal(map[string]any{"model": "fake", "choices": []any{map[string]any{"index": 0, "delta": map[string]any{"content": word}}}})
			fmt.Fprintf(w, "data: %s\n\n", chunk)
		}
		fmt.Fprintf(w, "data: %s\n\n", `{"model":"fake","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":50,"completion_tokens":5}}`)
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	t.Cleanup(m.Close)
	return m
}

// title waits for the story's title.
func (s *server) title(id string) string {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var out struct{ Node struct{ Title *string } }
		s.mustGQL(`query($id: ID!) { node(id: $id) { ... on Story { title } } }`, map[string]any{"id": id}, &out)
		if out.Node.Title != nil {
			return *out.Node.Title
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("story %s got no title", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTitles(t *testing.T) {
	t.Run("offline storyteller", func(t *testing.T) {
		s := start(t, map[string]string{"STORYTELLER_TOKENS_PER_SECOND": "0"})
		st := s.generate("A lighthouse keeper who collects lost letters", 50)
		s.waitFor(st.ID, func(st storedStory) bool { return st.Status == "COMPLETED" })
		if title := s.title(st.ID); !strings.Contains(title, " and ") {
			t.Errorf("storyteller title %q", title)
		}
		var out struct{ UpdateStory struct{ Title *string } }
		s.mustGQL(`mutation($id: ID!) { updateStory(id: $id, input: {title: "  Letters  "}) { title } }`, map[string]any{"id": st.ID}, &out)
		if str(out.UpdateStory.Title) != "Letters" {
			t.Errorf("edited title %q", str(out.UpdateStory.Title))
		}
		other := s.as(s.newUser("other@example.com"))
		var none any
		if errs := other.gql(`mutation($id: ID!) { updateStory(id: $id, input: {title: "Mine"}) { title } }`, map[string]any{"id": st.ID}, &none); code(errs) != "NOT_FOUND" {
			t.Errorf("another user's title: %+v", errs)
		}
		if errs := s.gql(`mutation($id: ID!) { updateStory(id: $id, input: {title: $t}) { title } }`, map[string]any{"id": st.ID, "t": strings.Repeat("t", 201)}, &none); code(errs) == "" {
			t.Errorf("a 201-character title was accepted")
		}
	})
	t.Run("model server", func(t *testing.T) {
		model := newFakeModel(t)
		s := start(t, map[string]string{"LLM_BASE_URL": model.URL + "/v1", "LLM_MODEL": "fake", "LLM_STREAM_USAGE": "true"})
		st := s.generate("A lighthouse keeper who collects lost letters", 50)
		done := s.waitFor(st.ID, func(st storedStory) bool { return st.Status == "COMPLETED" })
		if title := s.title(st.ID); title != fakeTitle {
			t.Errorf("title %q, want %q", title, fakeTitle)
		}
		// The story's 55 tokens and the title's 55 count in today's usage.
		var v struct {
			Viewer struct{ Usage struct{ TokensToday int } }
		}
		s.mustGQL(`{ viewer { usage { tokensToday } } }`, nil, &v)
		if v.Viewer.Usage.TokensToday != 110 {
			t.Errorf("tokens today %d, want 110 (story and title)", v.Viewer.Usage.TokensToday)
		}
		model.mu.Lock()
		defer model.mu.Unlock()
		if len(model.requests) != 2 {
			t.Fatalf("%d model requests, want 2", len(model.requests))
		}
		msgs, _ := json.Marshal(model.requests[1]["messages"])
		if !strings.Contains(string(msgs), done.Text[:20]) {
			t.Errorf("the title request does not carry the story: %s", msgs)
		}
	})
}

// TestExport downloads stories as Markdown and EPUB: as their owner, with
// a share token, and refused (404) otherwise.
func TestExport(t *testing.T) {
	s := start(t, map[string]string{"STORYTELLER_TOKENS_PER_SECOND": "0"})
	cases := []struct {
		name, prompt string
		options      map[string]any
		wantDir      string
	}{
		{"English", "A lighthouse keeper who collects lost letters", map[string]any{"genre": "fable", "language": "en"}, `dir="ltr"`},
		{"Traditional Chinese", "一位收集遺失信件的燈塔看守人", map[string]any{"language": "zh-TW", "audience": "CHILDREN"}, `dir="ltr"`},
		{"Arabic", "حارس منارة يجمع الرسائل الضائعة", map[string]any{"language": "ar"}, `dir="rtl"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, _ := s.createPrompt(c.prompt, c.options)
			var g struct{ GenerateStory struct{ ID string } }
			s.mustGQL(`mutation($p: ID!) { generateStory(input: {promptID: $p, maxTokens: 80}) { id } }`, map[string]any{"p": id}, &g)
			st := s.waitFor(g.GenerateStory.ID, func(st storedStory) bool { return st.Status == "COMPLETED" })
			title := s.title(st.ID)

			resp, md := s.get("/stories/"+st.ID+".md", s.authHeader())
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/markdown; charset=utf-8" {
				t.Fatalf("markdown: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), md)
			}
			head, text, ok := strings.Cut(md, "\n---\n\n")
			if !ok || strings.TrimSuffix(text, "\n") != st.Text {
				t.Errorf("the Markdown does not round-trip the text:\n%s", md)
			}
			if !strings.HasPrefix(head, "# ") || !strings.Contains(head, "> "+c.prompt) || !strings.Contains(head, "Language: "+c.options["language"].(string)) {
				t.Errorf("markdown head:\n%s", head)
			}

			resp, epub := s.get("/stories/"+st.ID+".epub", s.authHeader())
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/epub+zip" {
				t.Fatalf("epub: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			checkEPUB(t, []byte(epub), c.options["language"].(string), c.wantDir, title, st.Text)
			if c.name == "Traditional Chinese" { // internal/export's tests run epubcheck on every kind of book
				epubchecktest.Check(t, []byte(epub))
			}
		})
	}

	st := s.generate("A shared story", 20)
	s.waitFor(st.ID, func(st storedStory) bool { return st.Status == "COMPLETED" })
	var sh struct{ ShareStory struct{ ShareToken string } }
	s.mustGQL(`mutation($id: ID!) { shareStory(id: $id) { shareToken } }`, map[string]any{"id": st.ID}, &sh)
	anon := s.as("")
	other := s.as(s.newUser("other@example.com"))
	for _, c := range []struct {
		who  *server
		path string
		want int
	}{
		{anon, "/stories/" + st.ID + ".md?share=" + sh.ShareStory.ShareToken, http.StatusOK},
		{anon, "/stories/" + st.ID + ".epub?share=" + sh.ShareStory.ShareToken, http.StatusOK},
		{anon, "/stories/" + st.ID + ".md", http.StatusNotFound},
		{anon, "/stories/" + st.ID + ".md?share=wrong", http.StatusNotFound},
		{other, "/stories/" + st.ID + ".md", http.StatusNotFound},
		{other, "/stories/" + st.ID + ".epub", http.StatusNotFound},
		{s.as("sbt_forged"), "/stories/" + st.ID + ".md", http.StatusNotFound},
		{s, "/stories/" + st.ID + ".pdf", http.StatusNotFound},
		{s, "/stories/st_01JDQ3K8Z6V4X0M2T5R7N9B1C3.md", http.StatusNotFound},
	} {
		resp, body := c.who.get(c.path, c.who.authHeader())
		if resp.StatusCode != c.want {
			t.Errorf("GET %s: %d %s, want %d", c.path, resp.StatusCode, body, c.want)
		}
	}
	// A share token opens only its own story.
	mine := s.generate("Not shared", 5)
	if resp, _ := anon.get("/stories/"+mine.ID+".md?share="+sh.ShareStory.ShareToken, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another story with a share token: %d", resp.StatusCode)
	}
}

// checkEPUB checks an EPUB's structure, language and text.
func checkEPUB(t *testing.T, epub []byte, lang, dir, title, text string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(epub), int64(len(epub)))
	if err != nil {
		t.Fatal(err)
	}
	if f := zr.File[0]; f.Name != "mimetype" || f.Method != zip.Store {
		t.Errorf("first entry %s (method %d), want mimetype stored", f.Name, f.Method)
	}
	files := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = string(b)
	}
	if !strings.Contains(files["EPUB/package.opf"], "<dc:language>"+lang+"</dc:language>") {
		t.Errorf("package document:\n%s", files["EPUB/package.opf"])
	}
	page := files["EPUB/story.xhtml"]
	if !strings.Contains(page, dir) || !strings.Contains(page, `xml:lang="`+lang+`"`) {
		t.Errorf("story page has no %s, lang %s:\n%.400s", dir, lang, page)
	}
	for para := range strings.SplitSeq(text, "\n\n") {
		if para = strings.TrimSpace(para); para != "" && !strings.Contains(page, xmlEscape(para)) {
			t.Errorf("story page lacks the paragraph %q", para)
		}
	}
	if !strings.Contains(page, xmlEscape(title)) {
		t.Errorf("story page lacks the title %q", title)
	}
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

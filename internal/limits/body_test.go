package limits

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// echoHandler answers with the length and digest of the body it read, and
// the Content-Length it saw.
func echoHandler(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("next handler could not read the body: %v", err)
		}
		fmt.Fprintf(w, "%d %x %d", len(body), sha256.Sum256(body), r.ContentLength)
	})
}

func echoed(body []byte) string {
	return fmt.Sprintf("%d %x %d", len(body), sha256.Sum256(body), len(body))
}

// unsized hides a reader's length, so that the client sends it chunked.
type unsized struct{ io.Reader }

func TestBodyLimit(t *testing.T) {
	const limit = 1 << 20
	limited := BodyLimit(limit)(echoHandler(t))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Tell the test how the body arrived.
		w.Header().Set("X-Chunked", fmt.Sprint(slices.Contains(r.TransferEncoding, "chunked")))
		limited.ServeHTTP(w, r)
	}))
	defer srv.Close()

	small := bytes.Repeat([]byte("a"), 1000)
	atLimit := bytes.Repeat([]byte("b"), limit)
	overByOne := bytes.Repeat([]byte("c"), limit+1)
	twoMiB := []byte(`{"query":"{ ` + strings.Repeat("x ", 1<<20) + `}"}`)

	tests := []struct {
		name       string
		method     string
		body       []byte
		chunked    bool
		wantStatus int
		wantEcho   string // for 200
	}{
		{name: "small", method: "POST", body: small, wantStatus: 200, wantEcho: echoed(small)},
		{name: "small, chunked", method: "POST", body: small, chunked: true, wantStatus: 200, wantEcho: echoed(small)},
		{name: "at the limit", method: "POST", body: atLimit, wantStatus: 200, wantEcho: echoed(atLimit)},
		{name: "at the limit, chunked", method: "POST", body: atLimit, chunked: true, wantStatus: 200, wantEcho: echoed(atLimit)},
		{name: "one byte over", method: "POST", body: overByOne, wantStatus: 413},
		{name: "one byte over, chunked", method: "POST", body: overByOne, chunked: true, wantStatus: 413},
		{name: "2 MiB query", method: "POST", body: twoMiB, wantStatus: 413},
		{name: "2 MiB query, chunked", method: "POST", body: twoMiB, chunked: true, wantStatus: 413},
		{name: "empty", method: "POST", wantStatus: 200, wantEcho: echoed(nil)},
		{name: "GET", method: "GET", wantStatus: 200, wantEcho: echoed(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = bytes.NewReader(tt.body)
			if tt.chunked {
				body = unsized{body}
			}
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL, body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.body == nil {
				req.Body = http.NoBody
			}
			if tt.chunked && req.ContentLength != -1 {
				req.ContentLength = -1
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if chunked := resp.Header.Get("X-Chunked") == "true"; chunked != tt.chunked {
				t.Errorf("body sent chunked: %t, want %t", chunked, tt.chunked)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %.200s", resp.StatusCode, tt.wantStatus, got)
			}
			if tt.wantStatus == http.StatusOK {
				if string(got) != tt.wantEcho {
					t.Errorf("next handler saw %q, want %q", got, tt.wantEcho)
				}
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			// No trace middleware runs here: the trace ID is empty.
			want := `{"errors":[{"extensions":{"code":"BAD_USER_INPUT","traceId":""},"message":"the request body is larger than the limit of 1048576 bytes"}],"extensions":{"traceId":""}}`
			if string(got) != want {
				t.Errorf("body = %s, want %s", got, want)
			}
		})
	}
}

// TestBodyLimitGraphQL puts the limit in front of a gqlgen handler: a 2 MiB
// query is refused with 413 before gqlgen reads it, and a normal query is
// served as before.
func TestBodyLimitGraphQL(t *testing.T) {
	gql, _ := newQueryServer(t, DefaultQueryLimits())
	h := BodyLimit(DefaultMaxBodyBytes)(gql)

	huge := map[string]any{"query": "{ prompt {" + strings.Repeat(" id", 1<<20/3) + " } }"}
	status, resp := post(t, h, huge, "")
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB query: status %d, want 413", status)
	}
	wantErrs := `[{"message":"the request body is larger than the limit of 262144 bytes","extensions":{"code":"BAD_USER_INPUT","traceId":""}}]`
	if got := mustJSON(t, resp.Errors); got != wantErrs {
		t.Errorf("2 MiB query: errors %s, want %s", got, wantErrs)
	}

	status, resp = post(t, h, map[string]any{"query": "{ prompt { id } }"}, "")
	if status != http.StatusOK || len(resp.Errors) != 0 {
		t.Errorf("small query: status %d, errors %+v", status, resp.Errors)
	}
}

// failingReader returns some bytes and then an error, as a client that
// vanishes mid-body does.
type failingReader struct{ sent bool }

func (f *failingReader) Read(p []byte) (int, error) {
	if !f.sent {
		f.sent = true
		return copy(p, "partial"), nil
	}
	return 0, errors.New("connection reset")
}

func TestBodyLimitUnreadableBody(t *testing.T) {
	called := false
	h := BodyLimit(1024)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	r := httptest.NewRequest(http.MethodPost, "/graphql", io.NopCloser(&failingReader{}))
	r.ContentLength = -1
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusBadRequest || called {
		t.Errorf("status %d, next called %t; want 400 and not called", w.Code, called)
	}
	var got gqlResponse
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Errors) != 1 || got.Errors[0].Extensions["code"] != "BAD_USER_INPUT" {
		t.Errorf("body %s, want one BAD_USER_INPUT error", w.Body)
	}
}

func TestBodyLimitDeclaredLengthNotRead(t *testing.T) {
	h := BodyLimit(10)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("next handler called for an oversized body")
	}))
	body := &countingReader{r: strings.NewReader(strings.Repeat("x", 100))}
	r := httptest.NewRequest(http.MethodPost, "/graphql", body)
	r.ContentLength = 100
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if diff := cmp.Diff([2]int{413, 0}, [2]int{w.Code, body.n}); diff != "" {
		t.Errorf("status and bytes read (-want +got):\n%s", diff)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

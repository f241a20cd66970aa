package origins

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestPolicy(t *testing.T) {
	p := New([]string{"https://stories.example.com", "http://localhost:3000"})
	h := p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for _, tc := range []struct {
		name, method, origin string
		header               map[string]string
		wantStatus           int
		wantAllowOrigin      string
	}{
		{"no origin", "POST", "", nil, 204, ""},
		{"allowed origin", "POST", "http://localhost:3000", nil, 204, "http://localhost:3000"},
		{"same origin", "POST", "http://api.test", nil, 204, "http://api.test"},
		{"foreign origin POST gets no CORS headers", "POST", "https://evil.example", nil, 204, ""},
		{"preflight from an allowed origin", "OPTIONS", "https://stories.example.com",
			map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-trace-id"}, 204, "https://stories.example.com"},
		{"websocket from a foreign origin", "GET", "https://evil.example", map[string]string{"Upgrade": "websocket"}, 403, ""},
		{"event stream from a foreign origin", "POST", "https://evil.example", map[string]string{"Accept": "text/event-stream"}, 403, ""},
		{"websocket from an allowed origin", "GET", "https://stories.example.com", map[string]string{"Upgrade": "websocket"}, 204, "https://stories.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "http://api.test/graphql", nil)
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.wantStatus {
				t.Errorf("status %d, want %d", w.Code, tc.wantStatus)
			}
			if got := w.Header().Get("Access-Control-Allow-Origin"); got != tc.wantAllowOrigin {
				t.Errorf("Allow-Origin %q, want %q", got, tc.wantAllowOrigin)
			}
			if tc.method == "OPTIONS" {
				if w.Header().Get("Access-Control-Max-Age") == "" {
					t.Error("preflight without a max age")
				}
				if got := w.Header().Get("Access-Control-Allow-Headers"); got == "" {
					t.Error("preflight does not allow X-Trace-Id")
				}
			}
			if tc.wantAllowOrigin != "" && tc.method != "OPTIONS" && w.Header().Get("Access-Control-Expose-Headers") != "X-Trace-Id" {
				t.Errorf("X-Trace-Id is not exposed: %q", w.Header().Get("Access-Control-Expose-Headers"))
			}
		})
	}
	if !New([]string{"*"}).AllowOrigin("https://anything.example") {
		t.Error("* allows every origin")
	}
}

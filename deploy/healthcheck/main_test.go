package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	tests := []struct {
		addr, path, want string
	}{
		{"", "/healthz", "http://127.0.0.1:8080/healthz"},
		{":9000", "/readyz", "http://127.0.0.1:9000/readyz"},
		{"0.0.0.0:8080", "/healthz", "http://127.0.0.1:8080/healthz"},
		{"[::]:8080", "/healthz", "http://127.0.0.1:8080/healthz"},
		{"10.1.2.3:8080", "/healthz", "http://10.1.2.3:8080/healthz"},
		{"[::1]:8080", "/healthz", "http://[::1]:8080/healthz"},
		{"localhost:8080", "/healthz", "http://localhost:8080/healthz"},
	}
	for _, tt := range tests {
		got, err := checkURL(tt.addr, tt.path)
		if err != nil || got != tt.want {
			t.Errorf("checkURL(%q, %q) = %q, %v; want %q", tt.addr, tt.path, got, err, tt.want)
		}
	}
	if _, err := checkURL("8080", "/healthz"); err == nil {
		t.Error("checkURL accepted an address without a port")
	}
}

func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Write([]byte("ok\n"))
		case "/readyz":
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	env := func(k string) string {
		if k == "STORYBOT_ADDR" {
			return ":" + port
		}
		return ""
	}

	tests := []struct {
		name    string
		args    []string
		getenv  func(string) string
		code    int
		message string
	}{
		{"healthy by default", nil, env, 0, ""},
		{"not ready", []string{"/readyz"}, env, 1, "503 Service Unavailable: database unreachable"},
		{"relative path", []string{"readyz"}, env, 2, "must start with /"},
		{"too many arguments", []string{"/healthz", "/readyz"}, env, 2, "usage"},
		{"nothing listening", nil, func(string) string { return "127.0.0.1:1" }, 1, "connect"},
		{"bad address", nil, func(string) string { return "nonsense" }, 1, "STORYBOT_ADDR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(context.Background(), tt.args, tt.getenv, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.message) {
				t.Errorf("run(%q) = %d, stderr %q; want %d and %q", tt.args, code, stderr.String(), tt.code, tt.message)
			}
		})
	}
}

package config

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func load(t *testing.T, env map[string]string, args ...string) (Config, error) {
	t.Helper()
	return Load(args, func(k string) string { return env[k] }, io.Discard)
}

func TestDefaults(t *testing.T) {
	c, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Addr: ":8080", Env: "development", DataDir: "./data", ShutdownTimeout: 15 * time.Second, DBMaxConns: 20,
		AllowedOrigins:    []string{"http://localhost:3000", "http://localhost:5173", "http://localhost:8080", "http://127.0.0.1:8080"},
		LLMModel:          "gpt-4o-mini",
		LLMConnectTimeout: 10 * time.Second, LLMFirstTokenTimeout: 60 * time.Second, LLMIdleTimeout: 30 * time.Second,
		LLMContextTokens: 8192,
		FieldTimings:     true,
		StorytellerPace:  25, StoryMaxTokens: 600, StoryMaxTokensLimit: 4096, LogLevel: "info",
		StoryRatePerMinute: 10, StoryRateBurst: 5, StoryMaxRunning: 64, StoryMaxQueued: 256,
		MaxBodyBytes: 262144, WSMaxSubscriptions: 20, WSMaxConnectionsPerPeer: 50,
		Signup: "open", SessionIdle: 168 * time.Hour, SessionMaxAge: 720 * time.Hour, SignInPerMinute: 10, AuthRecheck: 30 * time.Second, UserMaxRunning: 3,
	}
	if diff := cmp.Diff(want, c, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if c.Production() || !c.IntrospectionEnabled() || !c.PlaygroundEnabled() {
		t.Error("development is not production, and has introspection and the playground")
	}
	prod, err := load(t, map[string]string{"STORYBOT_ENV": "production"})
	if err != nil || prod.IntrospectionEnabled() || prod.PlaygroundEnabled() {
		t.Errorf("production: introspection %v, playground %v (%v)", prod.IntrospectionEnabled(), prod.PlaygroundEnabled(), err)
	}
	prod, err = load(t, map[string]string{"STORYBOT_ENV": "production", "STORYBOT_INTROSPECTION": "true", "STORYBOT_PLAYGROUND": "1"})
	if err != nil || !prod.IntrospectionEnabled() || !prod.PlaygroundEnabled() {
		t.Errorf("production, turned on: introspection %v, playground %v (%v)", prod.IntrospectionEnabled(), prod.PlaygroundEnabled(), err)
	}
}

func TestEnvironmentAndFlags(t *testing.T) {
	c, err := load(t, map[string]string{
		"STORYBOT_ADDR": "127.0.0.1:9000", "STORYBOT_ENV": "production", "STORYBOT_SHUTDOWN_TIMEOUT": "3",
		"CORS_ALLOWED_ORIGINS": " https://stories.example.com/ , http://localhost:3000", "LLM_STREAM_USAGE": "true",
		"STORYTELLER_TOKENS_PER_SECOND": "0", "LOG_LEVEL": "DEBUG",
	}, "-addr", ":7000", "-llm-base-url", "http://localhost:11434/v1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":7000" || !c.Production() || c.ShutdownTimeout != 3*time.Second || !c.LLMStreamUsage ||
		c.StorytellerPace != 0 || c.LogLevel != "debug" || c.LLMBaseURL != "http://localhost:11434/v1" {
		t.Errorf("got %+v", c)
	}
	if diff := cmp.Diff([]string{"https://stories.example.com", "http://localhost:3000"}, c.AllowedOrigins); diff != "" {
		t.Errorf("origins (-want +got):\n%s", diff)
	}
}

func TestBadValues(t *testing.T) {
	for env, value := range map[string]string{
		"STORYBOT_ENV":                  "staging",
		"STORYBOT_SHUTDOWN_TIMEOUT":     "soon",
		"CORS_ALLOWED_ORIGINS":          "example.com",
		"STORYBOT_METRICS_ADDR":         "9090",
		"LLM_BASE_URL":                  "ftp://models",
		"LLM_STREAM_USAGE":              "maybe",
		"LLM_IDLE_TIMEOUT":              "-1s",
		"STORYTELLER_TOKENS_PER_SECOND": "fast",
		"STORY_MAX_TOKENS":              "0",
		"LOG_LEVEL":                     "loud",
		"STORYBOT_PUBLIC_GRAPHQL_URL":   "ws://api/graphql",
		"TRUSTED_PROXIES":               "10.0.0.0/33",
		"STORY_RATE_PER_MINUTE":         "-1",
		"STORY_MAX_RUNNING":             "0",
	} {
		_, err := load(t, map[string]string{env: value})
		if err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("%s=%s: error %v, want one naming %s", env, value, err, env)
		}
	}
	if _, err := load(t, map[string]string{"STORY_MAX_TOKENS": "5000"}); err == nil {
		t.Error("a default above the limit was accepted")
	}
	if _, err := load(t, nil, "extra"); err == nil {
		t.Error("a stray argument was accepted")
	}
}

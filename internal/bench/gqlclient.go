//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"sync"
	"time"
)

// gqlClient sends GraphQL operations over HTTP, for setting a scenario up
// and reading results back (never for the measured load).
type gqlClient struct {
	url   string
	token string // API token sent as "Authorization: Bearer"; "" for none
	http  *http.Client
}

func newGQLClient(addr, token string) *gqlClient {
	return &gqlClient{
		url:   "http://" + addr + "/graphql",
		token: token,
		http: &http.Client{
			Timeout: 60 * time.Second,
			Transport: &http.Transport{
				DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
				MaxIdleConnsPerHost: 64,
			},
		},
	}
}

// gqlError is one entry of a response's errors.
type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

// do runs one operation and decodes its data into out.
func (c *gqlClient) do(ctx context.Context, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, raw)
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("GraphQL error: %s (%v)", r.Errors[0].Message, r.Errors[0].Extensions["code"])
	}
	if out != nil {
		return json.Unmarshal(r.Data, out)
	}
	return nil
}

// benchEmail is the account the harness plays every viewer with: one for
// the bench database, its first and so its admin.
const benchEmail = "bench@example.com"

// signUp signs benchEmail up on the storybot at addr, as the README's
// "Using the API" does (the session cookie signUp sets, then an API token
// made with it), and returns the token.
func signUp(ctx context.Context, addr string) (string, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return "", err
	}
	c := newGQLClient(addr, "")
	c.http.Jar = jar
	err = c.do(ctx, `mutation($in: SignUpInput!) { signUp(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"email": benchEmail, "password": "correct horse battery staple"}}, nil)
	if err != nil {
		return "", fmt.Errorf("signing up: %w", err)
	}
	var out struct{ CreateAPIToken struct{ Token string } }
	if err := c.do(ctx, `mutation { createApiToken(input: {name: "bench"}) { token } }`, nil, &out); err != nil {
		return "", fmt.Errorf("creating an API token: %w", err)
	}
	if out.CreateAPIToken.Token == "" {
		return "", errors.New("createApiToken returned no token")
	}
	return out.CreateAPIToken.Token, nil
}

// createPrompt stores a prompt and returns its id.
func (c *gqlClient) createPrompt(ctx context.Context, content string) (string, error) {
	var out struct{ CreatePrompt struct{ ID string } }
	err := c.do(ctx, `mutation($c: String!) { createPrompt(input: {content: $c}) { id } }`, map[string]any{"c": content}, &out)
	return out.CreatePrompt.ID, err
}

// generateStory starts a story of maxTokens tokens streamed by the fake
// model at rate tokens per second, and returns its id.
func (c *gqlClient) generateStory(ctx context.Context, promptID string, maxTokens, rate int) (string, error) {
	var out struct{ GenerateStory struct{ ID string } }
	err := c.do(ctx, `mutation($p: ID!, $n: Int!, $m: String!) { generateStory(input: {promptID: $p, maxTokens: $n, model: $m}) { id } }`,
		map[string]any{"p": promptID, "n": maxTokens, "m": modelName(rate)}, &out)
	return out.GenerateStory.ID, err
}

// generateStories starts n stories of one prompt, a few at a time.
func (c *gqlClient) generateStories(ctx context.Context, promptID string, n, maxTokens, rate int) ([]string, error) {
	ids := make([]string, n)
	err := forEach(ctx, n, 16, func(ctx context.Context, i int) error {
		id, err := c.generateStory(ctx, promptID, maxTokens, rate)
		ids[i] = id
		return err
	})
	return ids, err
}

// seedPrompts stores n prompts with varied content, a few at a time.
func (c *gqlClient) seedPrompts(ctx context.Context, n int) error {
	return forEach(ctx, n, 8, func(ctx context.Context, i int) error {
		if _, err := c.createPrompt(ctx, promptText(i)); err != nil {
			return fmt.Errorf("seeding prompt %d: %w", i, err)
		}
		return nil
	})
}

// forEach calls fn for 0..n-1, at most limit at a time, and returns the
// first error; after one, the calls not yet started are skipped and ctx of
// those running is cancelled.
func forEach(ctx context.Context, n, limit int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && err != context.Canceled {
		return err
	}
	return ctx.Err()
}

// promptText returns the i-th seeded prompt: 60 to 120 characters, as
// people write them.
func promptText(i int) string {
	subjects := []string{"A lighthouse keeper", "A clockmaker", "A cartographer", "A whale", "A night train", "A librarian", "A lamp lighter", "A beekeeper"}
	deeds := []string{"who collects lost letters", "who repairs time itself", "mapping a city that moves", "who sings in prime numbers",
		"that never arrives", "who lends out dreams", "in a city of fireflies", "whose bees write poems"}
	places := []string{"on the moon", "under a frozen sea", "at the edge of the world", "in a house of mirrors", "during the longest night"}
	s := fmt.Sprintf("%s %s, %s (prompt %d)", subjects[i%len(subjects)], deeds[(i/len(subjects))%len(deeds)], places[i%len(places)], i)
	for len(s) < 60+i%61 {
		s += ", and then"
	}
	return s
}

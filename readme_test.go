package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/storybot/storybot/internal/config"
)

// TestREADMEDocumentsEverySetting keeps the README's configuration table in
// step with the settings storybot reads.
func TestREADMEDocumentsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(readme), "\n") {
		if m := regexp.MustCompile("^\\| `([A-Z_]+)` \\|").FindStringSubmatch(line); m != nil {
			rows[m[1]] = line
		}
	}
	for _, s := range config.Settings() {
		row, ok := rows[s.Env]
		if !ok {
			t.Errorf("README: no row for %s", s.Env)
			continue
		}
		cells := strings.Split(row, "|")
		if len(cells) < 5 {
			t.Errorf("README: malformed row %q", row)
			continue
		}
		flag, def := strings.TrimSpace(cells[2]), strings.TrimSpace(cells[3])
		if flag != "`-"+s.Flag+"`" {
			t.Errorf("README: %s has flag %s, want -%s", s.Env, flag, s.Flag)
		}
		wantDef := ""
		if s.Default != "" {
			wantDef = "`" + s.Default + "`"
		}
		if def != wantDef {
			t.Errorf("README: %s has default %s, want %q", s.Env, def, s.Default)
		}
		delete(rows, s.Env)
	}
	for env := range rows {
		t.Errorf("README documents %s, which storybot does not read", env)
	}
}

// TestREADMEExamples runs the README's shell examples of the API, as
// written, against a real server: each must succeed without a GraphQL error.
func TestREADMEExamples(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("curl is needed: %v", err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	section = section[strings.Index(section, "## Using the API"):]
	section = section[:strings.Index(section[3:], "\n## ")+3]
	var script strings.Builder
	script.WriteString("set -eu\n")
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1)
	if len(blocks) < 3 {
		t.Fatalf("found %d shell examples in the README's API section", len(blocks))
	}
	s := start(t, map[string]string{"STORYTELLER_TOKENS_PER_SECOND": "200"})
	for _, b := range blocks {
		script.WriteString(strings.ReplaceAll(b[1], "http://localhost:8080", s.base))
		script.WriteString("\n")
	}
	out, err := exec.Command("bash", "-c", script.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("the README's examples failed: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{`"createPrompt"`, `"updatePrompt"`, `"generateStory"`, `"status":"COMPLETED"`, `"cancelStory"`, `"deletePrompt"`, "event: complete"} {
		if !strings.Contains(text, want) {
			t.Errorf("the examples' output lacks %s", want)
		}
	}
	if strings.Contains(text, `"errors"`) {
		t.Errorf("an example got a GraphQL error:\n%s", text)
	}
}

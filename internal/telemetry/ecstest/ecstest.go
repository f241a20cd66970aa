// Package ecstest tells tests whether a log key is one storybot may write:
// an Elastic Common Schema field from the list in ecs-8.11.txt (the subset
// storybot uses), one of the two OpenTelemetry GraphQL attributes of
// otel-semconv.txt, a custom label (labels.*), or a field of storybot's own
// under the storybot. namespace.
//
// It is for tests: ScanSource finds every log key in the module's Go
// source (internal/telemetry's TestLogKeysInSource checks them all), and the
// server's and the deploy stack's tests check every key of the lines they
// capture with CheckOutput.
package ecstest

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// ECSVersion is the version of the Elastic Common Schema that ecs-8.11.txt
// lists fields of.
const ECSVersion = "8.11"

var (
	//go:embed ecs-8.11.txt
	ecsList string
	//go:embed otel-semconv.txt
	otelList string
)

// fields are the listed keys.
var fields = parseList(ecsList + "\n" + otelList)

// ownKey is the shape of a key of storybot's own: lower-case words of
// letters, digits and underscores, joined by dots, under storybot.
var ownKey = regexp.MustCompile(`^storybot(\.[a-z0-9_]+)+$`)

func parseList(s string) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			m[l] = true
		}
	}
	return m
}

// Allowed reports whether key may appear in a log line: a listed ECS (or
// OpenTelemetry GraphQL) field, a custom label under labels., or a key of
// storybot's own under storybot..
func Allowed(key string) bool {
	return fields[key] || ownKey.MatchString(key) ||
		(strings.HasPrefix(key, "labels.") && len(key) > len("labels."))
}

// Fields returns the listed ECS and OpenTelemetry fields, sorted.
func Fields() []string {
	out := make([]string, 0, len(fields))
	for f := range fields {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Keys returns the keys of one JSON log line, objects flattened with dots
// (as Elasticsearch reads them): {"error":{"message":"x"}} has the key
// error.message.
func Keys(line []byte) ([]string, error) {
	var obj map[string]any
	if err := json.Unmarshal(line, &obj); err != nil {
		return nil, err
	}
	var keys []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
				walk(prefix+k+".", sub)
				continue
			}
			keys = append(keys, prefix+k)
		}
	}
	walk("", obj)
	sort.Strings(keys)
	return keys, nil
}

// CheckOutput checks every line of a log output (JSON lines) and returns its
// problems, one per line that is not a JSON object and one per key that is
// not allowed (with the message of the first line that has it), sorted.
// Blank lines are skipped.
func CheckOutput(output string) []string {
	bad := map[string]string{}
	var problems []string
	sc := bufio.NewScanner(strings.NewReader(output))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		keys, err := Keys(line)
		if err != nil {
			problems = append(problems, fmt.Sprintf("not a JSON object (%v): %.200s", err, line))
			continue
		}
		for _, k := range keys {
			if _, seen := bad[k]; !seen && !Allowed(k) {
				var m struct {
					Message string `json:"message"`
				}
				_ = json.Unmarshal(line, &m)
				bad[k] = m.Message
			}
		}
	}
	if err := sc.Err(); err != nil {
		problems = append(problems, fmt.Sprintf("reading the output: %v", err))
	}
	for k, msg := range bad {
		problems = append(problems, fmt.Sprintf("key %q (in %q) is neither an ECS %s field nor storybot.*", k, msg, ECSVersion))
	}
	sort.Strings(problems)
	return problems
}

package deploy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/storybot/storybot/internal/telemetry/ecstest"
)

// dockerInstruction is one instruction of a Dockerfile, continuation lines
// joined.
type dockerInstruction struct {
	cmd, args string
}

func parseDockerfile(t *testing.T, name string) []dockerInstruction {
	t.Helper()
	var out []dockerInstruction
	var cur strings.Builder
	sc := bufio.NewScanner(strings.NewReader(readFile(t, name)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, dockerInstruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// TestDockerfile checks the image's recipe without a Docker engine: the
// three stages, the Go version of go.mod, a non-root runtime with a health
// check on a binary it really contains, and an ignore file that keeps
// nothing the build needs out of the context.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	ins := parseDockerfile(t, "Dockerfile")
	var stages []string
	args := map[string]string{}
	final := -1
	for i, in := range ins {
		switch in.cmd {
		case "ARG":
			k, v, _ := strings.Cut(in.args, "=")
			args[k] = v
		case "FROM":
			stages = append(stages, in.args)
			final = i
		}
	}
	if len(stages) != 3 {
		t.Fatalf("%d stages, want 3 (web bundle, Go build, runtime): %v", len(stages), stages)
	}
	if !strings.HasPrefix(stages[0], "node:${NODE_VERSION}") || !strings.HasSuffix(stages[0], " AS web") {
		t.Errorf("first stage %q, want the node web stage", stages[0])
	}
	if !strings.HasPrefix(stages[1], "golang:${GO_VERSION}") {
		t.Errorf("second stage %q, want the golang build stage", stages[1])
	}
	gomod := readFile(t, filepath.Join(repoRoot(t), "go.mod"))
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(gomod)
	if goVersion == nil || args["GO_VERSION"] != goVersion[1] {
		t.Errorf("GO_VERSION %q differs from go.mod's go directive %v", args["GO_VERSION"], goVersion)
	}

	runtime := ins[final+1:]
	has := func(cmd, substr string) bool {
		return slices.ContainsFunc(runtime, func(in dockerInstruction) bool {
			return in.cmd == cmd && strings.Contains(in.args, substr)
		})
	}
	for _, in := range runtime {
		if in.cmd == "USER" && (strings.HasPrefix(in.args, "0") || strings.HasPrefix(in.args, "root")) {
			t.Errorf("the runtime runs as %q", in.args)
		}
		if in.cmd == "RUN" {
			t.Errorf("the runtime stage runs %q: it has no shell", in.args)
		}
	}
	if !has("USER", "65532") {
		t.Error("the runtime does not switch to the unprivileged user 65532")
	}
	if !has("COPY", "--from=build /out/storybot /out/healthcheck /usr/local/bin/") {
		t.Error("the runtime does not get storybot and healthcheck from the build stage")
	}
	if !has("HEALTHCHECK", `CMD ["/usr/local/bin/healthcheck", "/healthz"]`) {
		t.Error("no HEALTHCHECK with the healthcheck binary on /healthz")
	}
	if !has("ENTRYPOINT", "/usr/local/bin/storybot") {
		t.Error("the entry point is not storybot")
	}
	if !has("EXPOSE", "8080") || !has("EXPOSE", "9100") {
		t.Error("the image does not expose 8080 and 9100")
	}
	build := ins[:final]
	if !slices.ContainsFunc(build, func(in dockerInstruction) bool {
		return in.cmd == "COPY" && strings.HasPrefix(in.args, "--from=web /src/web/dist ./web/dist")
	}) {
		t.Error("the build stage does not take the web bundle from the web stage")
	}
	if !slices.ContainsFunc(build, func(in dockerInstruction) bool {
		return in.cmd == "RUN" && strings.Contains(in.args, "CGO_ENABLED=0 go build") && strings.Contains(in.args, "./deploy/healthcheck")
	}) {
		t.Error("the build stage does not build storybot and ./deploy/healthcheck statically")
	}

	// BuildKit reads Dockerfile.dockerignore beside the Dockerfile. None of
	// its patterns may drop a file the stages copy.
	var patterns []string
	for _, l := range lines(readFile(t, "Dockerfile.dockerignore")) {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			patterns = append(patterns, strings.TrimSpace(l))
		}
	}
	for _, needed := range []string{"go.mod", "go.sum", "server.go", "web/package.json", "web/package-lock.json", "web/src", "deploy/healthcheck/main.go", "internal/database/migrations"} {
		if _, err := os.Stat(filepath.Join(repoRoot(t), needed)); err != nil {
			t.Errorf("the build needs %s: %v", needed, err)
		}
		for _, p := range patterns {
			if ignored(p, needed) {
				t.Errorf("Dockerfile.dockerignore pattern %q drops %s, which the build needs", p, needed)
			}
		}
	}
	for _, dropped := range []string{".git", "web/node_modules", "deploy/.env", "deploy/letsencrypt"} {
		if !slices.ContainsFunc(patterns, func(p string) bool { return ignored(p, dropped) }) {
			t.Errorf("Dockerfile.dockerignore keeps %s in the build context", dropped)
		}
	}
}

// ignored reports whether a .dockerignore pattern drops path or a parent
// directory of it. "**" matches any number of directories, "*" and "?"
// stay within one.
func ignored(pattern, path string) bool {
	var re strings.Builder
	re.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch {
		case strings.HasPrefix(pattern[i:], "**/"):
			re.WriteString("(.*/)?")
			i += 2
		case strings.HasPrefix(pattern[i:], "**"):
			re.WriteString(".*")
			i++
		case pattern[i] == '*':
			re.WriteString("[^/]*")
		case pattern[i] == '?':
			re.WriteString("[^/]")
		default:
			re.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
		}
	}
	re.WriteString("$")
	match := regexp.MustCompile(re.String())
	for p := path; p != "." && p != "/"; p = filepath.Dir(p) {
		if match.MatchString(p) {
			return true
		}
	}
	return false
}

// grafanaDashboard is the provisioned dashboard, decoded.
type grafanaDashboard struct {
	doc     map[string]any
	panels  []map[string]any
	targets []grafanaTarget
}

// grafanaTarget is one query of a panel.
type grafanaTarget struct {
	panel, expr, legend string
}

func loadDashboard(t testing.TB) grafanaDashboard {
	t.Helper()
	var d grafanaDashboard
	if err := json.Unmarshal([]byte(readFile(t, "grafana/dashboards/storybot.json")), &d.doc); err != nil {
		t.Fatalf("grafana/dashboards/storybot.json: %v", err)
	}
	for _, p := range getList(d.doc, "panels") {
		panel, _ := p.(map[string]any)
		d.panels = append(d.panels, panel)
		for _, tg := range getList(panel, "targets") {
			d.targets = append(d.targets, grafanaTarget{
				panel:  getString(panel, "title"),
				expr:   getString(tg, "expr"),
				legend: getString(tg, "legendFormat"),
			})
		}
	}
	return d
}

// grafanaSchemaVersion is the dashboard schema of Grafana 12, the version
// compose.yaml runs: the dashboard is written in it, so that Grafana does not
// migrate it at every load.
const grafanaSchemaVersion = 41

// TestGrafanaProvisioning checks the data source, the dashboard provider and
// the dashboard: JSON that Grafana can load, in the current schema, every
// query on the data source its variable picks (so that it imports into any
// Grafana with a Prometheus), and a panel for each thing the issue asks to
// see.
func TestGrafanaProvisioning(t *testing.T) {
	t.Parallel()
	ds := readYAML(t, "grafana/provisioning/datasources/prometheus.yaml")[0]
	uid := getString(ds, "datasources", 0, "uid")
	if getString(ds, "datasources", 0, "type") != "prometheus" || uid == "" || get(ds, "datasources", 0, "isDefault") != true {
		t.Fatalf("the provisioned data source is not the default Prometheus one with a uid: %v", ds)
	}
	prov := readYAML(t, "grafana/provisioning/dashboards/storybot.yaml")[0]
	if getString(prov, "providers", 0, "type") != "file" || getString(prov, "providers", 0, "options", "path") == "" {
		t.Errorf("the dashboard provider does not read files: %v", prov)
	}

	d := loadDashboard(t)
	if getString(d.doc, "uid") == "" || getString(d.doc, "title") == "" {
		t.Error("the dashboard has no uid or title")
	}
	if v := getInt(d.doc, "schemaVersion"); v != grafanaSchemaVersion {
		t.Errorf("schemaVersion %d, want %d (Grafana 12)", v, grafanaSchemaVersion)
	}
	if _, ok := d.doc["id"]; ok {
		t.Error("the dashboard has an id: Grafana's database assigns it")
	}
	// One data-source variable of type prometheus; every panel, query and
	// other variable uses it, and nothing names a data source's uid.
	var dsVar string
	for _, v := range getList(d.doc, "templating", "list") {
		if getString(v, "type") == "datasource" {
			if dsVar != "" || getString(v, "query") != "prometheus" {
				t.Errorf("data-source variables: a second one, or not of Prometheus: %v", v)
			}
			dsVar = getString(v, "name")
		}
	}
	if dsVar == "" {
		t.Fatal("the dashboard has no data-source variable")
	}
	usesVar := func(what string, ds any) {
		t.Helper()
		if getString(ds, "type") != "prometheus" || getString(ds, "uid") != "${"+dsVar+"}" {
			t.Errorf("%s uses the data source %v, not ${%s}", what, ds, dsVar)
		}
	}
	if strings.Contains(readFile(t, "grafana/dashboards/storybot.json"), uid) {
		t.Errorf("the dashboard names the provisioned data source's uid %q; use ${%s}", uid, dsVar)
	}
	ids := map[int]bool{}
	for _, p := range d.panels {
		id := getInt(p, "id")
		if ids[id] {
			t.Errorf("panel id %d is used twice", id)
		}
		ids[id] = true
		if getString(p, "type") == "row" {
			continue
		}
		title := getString(p, "title")
		usesVar(fmt.Sprintf("panel %q", title), get(p, "datasource"))
		if len(getList(p, "targets")) == 0 {
			t.Errorf("panel %q has no query", title)
		}
		for _, tg := range getList(p, "targets") {
			if getString(tg, "expr") == "" || getString(tg, "refId") == "" {
				t.Errorf("panel %q has a query without expr or refId", title)
			}
			if get(tg, "datasource") != nil {
				usesVar(fmt.Sprintf("a query of panel %q", title), get(tg, "datasource"))
			}
		}
	}
	for _, v := range getList(d.doc, "templating", "list") {
		if getString(v, "type") != "datasource" {
			usesVar(fmt.Sprintf("variable %q", getString(v, "name")), get(v, "datasource"))
		}
	}
	// What the issue asks the dashboard to show, by the series that show it.
	for what, series := range map[string]string{
		"request rates":                 "graphql_operations_total",
		"error rates":                   "graphql_errors_total",
		"HTTP requests":                 "http_requests_total",
		"per-field p95 by object.field": "graphql_field_duration_seconds_bucket",
		"websocket connections":         "graphql_websocket_connections",
		"active subscriptions":          "graphql_active_subscriptions",
		"tokens per second":             "storybot_story_tokens_streamed_total",
		"time to first token":           "storybot_story_first_token_seconds_bucket",
		"stories by outcome":            "storybot_stories_finished_total",
		"database pool":                 "go_sql_in_use_connections",
		"first token by model":          "storybot_model_first_token_seconds_bucket",
		"model tokens per second":       "storybot_model_tokens_per_second_bucket",
		"story duration by model":       "storybot_model_story_duration_seconds_bucket",
		"token usage by model":          "storybot_model_tokens_total",
		"queue wait":                    "storybot_story_queue_wait_seconds_bucket",
	} {
		if !slices.ContainsFunc(d.targets, func(tg grafanaTarget) bool { return strings.Contains(tg.expr, series) }) {
			t.Errorf("no panel shows %s (%s)", what, series)
		}
	}
	// The latency histograms with exemplars (trace_id) show them.
	for _, series := range []string{"storybot_model_first_token_seconds_bucket", "storybot_model_story_duration_seconds_bucket", "storybot_story_queue_wait_seconds_bucket"} {
		if !slices.ContainsFunc(getList(d.doc, "panels"), func(p any) bool {
			return slices.ContainsFunc(getList(p, "targets"), func(tg any) bool {
				return strings.Contains(getString(tg, "expr"), series) && get(tg, "exemplar") == true
			})
		}) {
			t.Errorf("no query of %s shows its exemplars", series)
		}
	}
	if !slices.ContainsFunc(d.targets, func(tg grafanaTarget) bool {
		return strings.Contains(tg.expr, "graphql_field_duration_seconds_bucket") && strings.Contains(tg.legend, "{{object}}.{{field}}")
	}) {
		t.Error("no panel labels field latencies as object.field")
	}
}

// kibanaObject is one saved object of the ndjson file.
type kibanaObject struct {
	Type       string            `json:"type"`
	ID         string            `json:"id"`
	Attributes map[string]any    `json:"attributes"`
	References []kibanaReference `json:"references"`
}

// kibanaReference names another saved object.
type kibanaReference struct {
	Name string `json:"name"`
	Type string `json:"type"`
	ID   string `json:"id"`
}

// kibanaSearch is a saved search's query and columns.
type kibanaSearch struct {
	title, query string
	columns      []string
}

func loadKibana(t testing.TB) (map[string]kibanaObject, []kibanaSearch) {
	t.Helper()
	objects := map[string]kibanaObject{}
	var order []kibanaObject
	for i, line := range lines(readFile(t, "kibana/saved-objects.ndjson")) {
		var o kibanaObject
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&o); err != nil {
			t.Fatalf("saved-objects.ndjson line %d: %v", i+1, err)
		}
		if o.Type == "" || o.ID == "" || o.Attributes == nil {
			t.Fatalf("saved-objects.ndjson line %d lacks type, id or attributes", i+1)
		}
		key := o.Type + "/" + o.ID
		if _, dup := objects[key]; dup {
			t.Errorf("%s appears twice", key)
		}
		objects[key] = o
		order = append(order, o)
	}
	var searches []kibanaSearch
	for _, o := range order {
		if o.Type != "search" {
			continue
		}
		var src struct {
			Query struct {
				Query    string `json:"query"`
				Language string `json:"language"`
			} `json:"query"`
			IndexRefName string `json:"indexRefName"`
		}
		if err := json.Unmarshal([]byte(getString(o.Attributes, "kibanaSavedObjectMeta", "searchSourceJSON")), &src); err != nil {
			t.Fatalf("search %s: searchSourceJSON: %v", o.ID, err)
		}
		if src.Query.Language != "kuery" {
			t.Errorf("search %s: query language %q, want kuery", o.ID, src.Query.Language)
		}
		if !slices.ContainsFunc(o.References, func(r kibanaReference) bool {
			return r.Name == src.IndexRefName && r.Type == "index-pattern"
		}) {
			t.Errorf("search %s: indexRefName %q is not a reference to a data view", o.ID, src.IndexRefName)
		}
		searches = append(searches, kibanaSearch{
			title:   getString(o.Attributes, "title"),
			query:   src.Query.Query,
			columns: anyStrings(getList(o.Attributes, "columns")),
		})
	}
	return objects, searches
}

// TestKibanaSavedObjects checks that the ndjson file is what Kibana's
// import takes: one object a line, references that resolve, a data view on
// the indices Logstash writes, and the searches the issue asks for.
func TestKibanaSavedObjects(t *testing.T) {
	t.Parallel()
	objects, searches := loadKibana(t)
	var views []kibanaObject
	for key, o := range objects {
		for _, r := range o.References {
			if _, ok := objects[r.Type+"/"+r.ID]; !ok {
				t.Errorf("%s refers to %s/%s, which the file does not hold", key, r.Type, r.ID)
			}
		}
		if o.Type == "index-pattern" {
			views = append(views, o)
		}
	}
	if len(views) != 1 {
		t.Fatalf("%d data views, want 1", len(views))
	}
	ls := loadLogstashPipeline(t)
	prefix, _, _ := strings.Cut(ls.index, "%{")
	if title := getString(views[0].Attributes, "title"); title != prefix+"*" || title != "storybot-logs-*" {
		t.Errorf("the data view reads %q; Logstash writes %q", title, ls.index)
	}
	if tf := getString(views[0].Attributes, "timeFieldName"); tf != "@timestamp" {
		t.Errorf("the data view's time field is %q, want @timestamp", tf)
	}

	// Every field a search shows or asks for is an ECS field or one of
	// storybot's own (TestStack checks that storybot writes them).
	kqlField := regexp.MustCompile(`([A-Za-z_@][\w.@]*)\s*(?::|>=|<=|>|<)`)
	for _, s := range searches {
		fields := slices.Clone(s.columns)
		for _, m := range kqlField.FindAllStringSubmatch(s.query, -1) {
			fields = append(fields, m[1])
		}
		for _, f := range fields {
			if !ecstest.Allowed(f) {
				t.Errorf("search %q uses %s, which is neither an ECS %s field nor storybot.*", s.title, f, ecstest.ECSVersion)
			}
		}
	}

	// One trace's lines: the trace ID of a request, of a websocket
	// connection, or of an operation on one.
	if !slices.ContainsFunc(searches, func(s kibanaSearch) bool {
		return strings.Contains(s.query, "trace.id :") && strings.Contains(s.query, "storybot.connection.trace_id :")
	}) {
		t.Error("no saved search shows one trace ID's lines")
	}

	var dashboards []kibanaObject
	for _, o := range objects {
		if o.Type == "dashboard" {
			dashboards = append(dashboards, o)
		}
	}
	if len(dashboards) != 1 {
		t.Fatalf("%d dashboards, want 1", len(dashboards))
	}
	var panels []struct {
		Type         string `json:"type"`
		PanelRefName string `json:"panelRefName"`
	}
	if err := json.Unmarshal([]byte(getString(dashboards[0].Attributes, "panelsJSON")), &panels); err != nil {
		t.Fatalf("the dashboard's panelsJSON: %v", err)
	}
	var shown []string
	for _, p := range panels {
		found := false
		for _, r := range dashboards[0].References {
			if r.Name == p.PanelRefName && r.Type == p.Type {
				shown = append(shown, r.ID)
				found = true
			}
		}
		if !found {
			t.Errorf("panel %q has no reference", p.PanelRefName)
		}
	}
	if m := missing(shown, "storybot-errors", "storybot-slow-operations"); len(m) > 0 {
		t.Errorf("the dashboard does not show %v", m)
	}
}

// TestLogstashIndexTemplate checks the index template that Logstash installs:
// valid JSON for Elasticsearch's composable templates, for the indices the
// pipeline writes, with every mapped field an ECS field or one of
// storybot's own (storybot.*), error as the ECS error object (not text, which
// would collide with Elastic's ECS templates), and storybot's IDs as
// keywords.
func TestLogstashIndexTemplate(t *testing.T) {
	t.Parallel()
	ls := loadLogstashPipeline(t)
	if !regexp.MustCompile(`^storybot-logs-%\{\+YYYY\.MM\.dd\}$`).MatchString(ls.index) {
		t.Errorf("the pipeline writes to %q, want one index a day: storybot-logs-%%{+YYYY.MM.dd}", ls.index)
	}
	var tmpl map[string]any
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join("logstash/templates", filepath.Base(ls.template)))), &tmpl); err != nil {
		t.Fatalf("the index template: %v", err)
	}
	if p := anyStrings(getList(tmpl, "index_patterns")); !slices.Equal(p, []string{"storybot-logs-*"}) {
		t.Errorf("the index template applies to %v, want [storybot-logs-*]", p)
	}
	props := getMap(tmpl, "template", "mappings", "properties")
	types := map[string]string{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for name, v := range m {
			if sub := getMap(v, "properties"); sub != nil {
				walk(prefix+name+".", sub)
				continue
			}
			types[prefix+name] = getString(v, "type")
		}
	}
	walk("", props)
	for field := range types {
		if !ecstest.Allowed(field) {
			t.Errorf("the template maps %s, which is neither an ECS %s field nor storybot.*", field, ecstest.ECSVersion)
		}
	}
	for field, want := range map[string]string{
		"trace.id":                     "keyword",
		"storybot.connection.trace_id": "keyword",
		"storybot.story.id":            "keyword",
		"user.id":                      "keyword",
		"log.level":                    "keyword",
		"event.duration":               "long", // nanoseconds
		"error.message":                "match_only_text",
		"error.type":                   "keyword",
		"error.stack_trace":            "wildcard",
	} {
		if types[field] != want {
			t.Errorf("%s is mapped as %q, want %s", field, types[field], want)
		}
	}
	if getString(props, "error", "type") != "" {
		t.Errorf("error is mapped as %s: ECS makes it an object (error.message, error.type, error.stack_trace)", getString(props, "error", "type"))
	}
}

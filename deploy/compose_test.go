package deploy

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/storybot/storybot/internal/config"
)

// composeTestVars are the settings an operator puts in deploy/.env, with
// test values.
func composeTestVars() map[string]string {
	return map[string]string{
		"STORYBOT_DOMAIN":        "localhost",
		"POSTGRES_PASSWORD":      "test-password",
		"GRAFANA_ADMIN_PASSWORD": "test-password",
	}
}

// composeServices are the services compose.yaml must define.
var composeServices = []string{
	"postgres", "storybot-1", "storybot-2", "nginx", "certbot",
	"elasticsearch", "logstash", "kibana", "kibana-setup", "prometheus", "alertmanager", "grafana",
}

// storybotReplicas are the compose services running storybot.
var storybotReplicas = []string{"storybot-1", "storybot-2"}

// TestComposeConfig validates compose.yaml with docker-compose itself (no
// Docker engine needed for `config`).
func TestComposeConfig(t *testing.T) {
	t.Parallel()
	dc := need(t, "docker-compose", "docker-compose")
	emptyEnvFile := filepath.Join(t.TempDir(), "empty.env")
	if err := os.WriteFile(emptyEnvFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--env-file", emptyEnvFile, "-f", "compose.yaml", "config"}
	vars := composeTestVars()
	var names []string
	for k := range vars {
		names = append(names, k)
	}

	// Without the required settings compose refuses to start, naming one.
	out, err := run(t, ".", environ(names, nil), dc, args...)
	if err == nil || !regexp.MustCompile(`set (STORYBOT_DOMAIN|POSTGRES_PASSWORD|GRAFANA_ADMIN_PASSWORD) in deploy/.env`).MatchString(out) {
		t.Errorf("docker-compose config without deploy/.env: err %v, output:\n%s\nwant a failure naming a missing setting", err, out)
	}

	out, err = run(t, ".", environ(nil, vars), dc, args...)
	if err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, out)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatalf("docker-compose config printed invalid YAML: %v", err)
	}
	services := getMap(cfg, "services")
	var got []string
	for name := range services {
		got = append(got, name)
	}
	if m := missing(got, composeServices...); len(m) > 0 {
		t.Errorf("services %v missing from the normalized config", m)
	}

	deployDir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for name, svc := range services {
		// Every file or directory mounted from the repository exists; the
		// certificates are the operator's (README: TLS).
		for _, v := range getList(svc, "volumes") {
			spec, _ := v.(string)
			src, _, _ := strings.Cut(spec, ":")
			if !filepath.IsAbs(src) || strings.HasPrefix(src, filepath.Join(deployDir, "letsencrypt")) {
				continue
			}
			if _, err := os.Stat(src); err != nil {
				t.Errorf("%s mounts %s, which does not exist", name, src)
			}
		}
	}
	for _, name := range storybotReplicas {
		svc := services[name]
		if ctx := getString(svc, "build", "context"); ctx != repoRoot(t) {
			t.Errorf("%s: build context %q, want the repository root", name, ctx)
		}
		if df := getString(svc, "build", "dockerfile"); df != "deploy/Dockerfile" {
			t.Errorf("%s: dockerfile %q, want deploy/Dockerfile", name, df)
		}
		env := stringMap(t, getMap(svc, "environment"))
		if _, err := config.Load(nil, func(k string) string { return env[k] }, nil); err != nil {
			t.Errorf("%s: storybot rejects its environment: %v", name, err)
		}
		if got, want := env["DATABASE_URL"], "postgres://storybot:test-password@postgres:5432/storybot?sslmode=disable"; got != want {
			t.Errorf("%s: DATABASE_URL = %q, want %q", name, got, want)
		}
	}
}

// composeFile is compose.yaml as written, with the variables of
// composeTestVars put in the way compose does.
type composeFile struct {
	services map[string]any
	vars     map[string]string
}

func loadCompose(t testing.TB) composeFile {
	t.Helper()
	docs := readYAML(t, "compose.yaml")
	if len(docs) != 1 {
		t.Fatalf("compose.yaml has %d documents, want 1", len(docs))
	}
	return composeFile{services: getMap(docs[0], "services"), vars: composeTestVars()}
}

// env returns a service's environment with the variables put in.
func (c composeFile) env(t testing.TB, service string) map[string]string {
	t.Helper()
	raw := stringMap(t, getMap(c.services, service, "environment"))
	env := make(map[string]string, len(raw))
	for k, v := range raw {
		s, err := interpolate(v, c.vars)
		if err != nil {
			t.Fatalf("%s: %s: %v", service, k, err)
		}
		env[k] = s
	}
	return env
}

// mount returns the source, relative to deploy/, of the volume a service
// mounts at target, or "".
func (c composeFile) mount(service, target string) string {
	for _, v := range getList(c.services, service, "volumes") {
		spec, _ := v.(string)
		parts := strings.Split(spec, ":")
		if len(parts) >= 2 && parts[1] == target {
			return parts[0]
		}
	}
	return ""
}

// nginxOrigins returns the origins the nginx template's map allows, with
// the site's domain put in.
func nginxOrigins(t testing.TB, template, domain string) []string {
	t.Helper()
	block := regexp.MustCompile(`(?s)map \$http_origin \$storybot_origin_allowed \{(.*?)\n\}`).FindStringSubmatch(template)
	if block == nil {
		t.Fatal("the nginx template has no map $http_origin $storybot_origin_allowed")
	}
	var origins []string
	for _, m := range regexp.MustCompile(`(?m)^\s*"([^"]+)"\s+1;`).FindAllStringSubmatch(block[1], -1) {
		origins = append(origins, strings.ReplaceAll(m[1], "${STORYBOT_DOMAIN}", domain))
	}
	return origins
}

// nginxUpstreams returns the host:port of each server of the template's
// upstream block.
func nginxUpstreams(t testing.TB, template string) []string {
	t.Helper()
	block := regexp.MustCompile(`(?s)upstream storybot \{(.*?)\n\}`).FindStringSubmatch(template)
	if block == nil {
		t.Fatal("the nginx template has no upstream storybot")
	}
	var servers []string
	for _, m := range regexp.MustCompile(`(?m)^\s*server\s+(\S+?)[\s;]`).FindAllStringSubmatch(block[1], -1) {
		servers = append(servers, m[1])
	}
	return servers
}

// logstashPipeline is what the tests read from the Logstash pipeline.
type logstashPipeline struct {
	port     int
	codec    string
	index    string
	template string
}

func loadLogstashPipeline(t testing.TB) logstashPipeline {
	t.Helper()
	conf := readFile(t, "logstash/pipeline/storybot.conf")
	input := regexp.MustCompile(`(?s)\btcp\s*\{(.*?)\}`).FindStringSubmatch(conf)
	if input == nil {
		t.Fatal("the Logstash pipeline has no tcp input")
	}
	var p logstashPipeline
	if m := regexp.MustCompile(`\bport\s*=>\s*(\d+)`).FindStringSubmatch(input[1]); m != nil {
		p.port, _ = strconv.Atoi(m[1])
	}
	if m := regexp.MustCompile(`\bcodec\s*=>\s*(\w+)`).FindStringSubmatch(input[1]); m != nil {
		p.codec = m[1]
	}
	output := regexp.MustCompile(`(?s)\belasticsearch\s*\{(.*?)\n  \}`).FindStringSubmatch(conf)
	if output == nil {
		t.Fatal("the Logstash pipeline has no elasticsearch output")
	}
	if m := regexp.MustCompile(`\bindex\s*=>\s*"([^"]+)"`).FindStringSubmatch(output[1]); m != nil {
		p.index = m[1]
	}
	if m := regexp.MustCompile(`\btemplate\s*=>\s*"([^"]+)"`).FindStringSubmatch(output[1]); m != nil {
		p.template = m[1]
	}
	return p
}

// TestComposeWiring checks that the pieces of the compose stack point at
// each other: replicas at Postgres and Logstash, nginx and Prometheus at the
// replicas, Grafana at Prometheus and its dashboards, each on the ports the
// other side really uses.
func TestComposeWiring(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	var names []string
	for name := range c.services {
		names = append(names, name)
	}
	if m := missing(names, composeServices...); len(m) > 0 {
		t.Fatalf("compose.yaml lacks the services %v", m)
	}

	replicaPorts := map[string]int{}
	metricsPorts := map[string]int{}
	ids := map[string]bool{}
	for _, name := range storybotReplicas {
		env := c.env(t, name)
		if _, err := config.Load(nil, func(k string) string { return env[k] }, nil); err != nil {
			t.Errorf("%s: storybot rejects its environment: %v", name, err)
		}
		for k := range env {
			if !slices.ContainsFunc(config.Settings(), func(s config.Setting) bool { return s.Env == k }) {
				t.Errorf("%s sets %s, which storybot does not read", name, k)
			}
		}
		if env["STORYBOT_ENV"] != "production" {
			t.Errorf("%s: STORYBOT_ENV = %q, want production", name, env["STORYBOT_ENV"])
		}
		if ids[env["STORYBOT_REPLICA_ID"]] || env["STORYBOT_REPLICA_ID"] == "" {
			t.Errorf("%s: STORYBOT_REPLICA_ID %q is empty or not unique", name, env["STORYBOT_REPLICA_ID"])
		}
		ids[env["STORYBOT_REPLICA_ID"]] = true
		replicaPorts[name] = portOf(t, env["STORYBOT_ADDR"])
		metricsPorts[name] = portOf(t, env["STORYBOT_METRICS_ADDR"])

		u, err := url.Parse(env["DATABASE_URL"])
		if err != nil || u.Hostname() != "postgres" {
			t.Errorf("%s: DATABASE_URL %q does not point at the postgres service", name, env["DATABASE_URL"])
		} else {
			pg := c.env(t, "postgres")
			pass, _ := u.User.Password()
			if u.User.Username() != pg["POSTGRES_USER"] || pass != pg["POSTGRES_PASSWORD"] || strings.TrimPrefix(u.Path, "/") != pg["POSTGRES_DB"] {
				t.Errorf("%s: DATABASE_URL %q does not match the postgres service's user, password and database", name, env["DATABASE_URL"])
			}
		}

		// Logs go to the Logstash service, on the port and in the format of
		// its tcp input.
		ls := loadLogstashPipeline(t)
		host, port, err := net.SplitHostPort(env["LOGSTASH_ADDR"])
		if err != nil || host != "logstash" || port != strconv.Itoa(ls.port) {
			t.Errorf("%s: LOGSTASH_ADDR = %q, want logstash:%d (the pipeline's tcp port)", name, env["LOGSTASH_ADDR"], ls.port)
		}
		if ls.codec != "json_lines" {
			t.Errorf("the Logstash tcp input's codec is %q; storybot writes one JSON object per line (json_lines)", ls.codec)
		}
	}

	// nginx: its upstream is the replicas on their STORYBOT_ADDR port, its
	// allowed origins are theirs, and its template is where the image
	// looks.
	tmpl := readFile(t, "nginx/templates/storybot.conf.template")
	var upstreams []string
	for _, name := range storybotReplicas {
		upstreams = append(upstreams, net.JoinHostPort(name, strconv.Itoa(replicaPorts[name])))
	}
	if got := nginxUpstreams(t, tmpl); !slices.Equal(got, upstreams) {
		t.Errorf("nginx upstream servers %v, want every replica: %v", got, upstreams)
	}
	nginxEnv := c.env(t, "nginx")
	for _, name := range storybotReplicas {
		cors := strings.Split(c.env(t, name)["CORS_ALLOWED_ORIGINS"], ",")
		origins := nginxOrigins(t, tmpl, nginxEnv["STORYBOT_DOMAIN"])
		slices.Sort(cors)
		slices.Sort(origins)
		if !slices.Equal(cors, origins) {
			t.Errorf("%s allows the origins %v, nginx %v: keep them equal", name, cors, origins)
		}
		if !slices.Contains(origins, "http://localhost:3000") {
			t.Errorf("nginx does not allow the dev server http://localhost:3000")
		}
	}
	if src := c.mount("nginx", "/etc/nginx/templates"); src != "./nginx/templates" {
		t.Errorf("nginx mounts %q at /etc/nginx/templates, want ./nginx/templates", src)
	}
	for _, p := range regexp.MustCompile(`(/etc/letsencrypt|/var/www/certbot)/`).FindAllStringSubmatch(tmpl, -1) {
		if c.mount("nginx", p[1]) == "" || c.mount("certbot", p[1]) == "" {
			t.Errorf("nginx reads %s, which nginx and certbot must both mount", p[1])
		}
	}

	// Prometheus scrapes every replica's metrics port and loads the rules.
	prom := readYAML(t, "prometheus/prometheus.yml")[0]
	var targets []string
	for _, job := range getList(prom, "scrape_configs") {
		if getString(job, "job_name") != "storybot" {
			continue
		}
		for _, sc := range getList(job, "static_configs") {
			for _, tg := range getList(sc, "targets") {
				targets = append(targets, tg.(string))
			}
		}
	}
	var want []string
	for _, name := range storybotReplicas {
		want = append(want, net.JoinHostPort(name, strconv.Itoa(metricsPorts[name])))
	}
	if !slices.Equal(targets, want) {
		t.Errorf("Prometheus job storybot scrapes %v, want every replica's metrics listener: %v", targets, want)
	}
	if src := c.mount("prometheus", "/etc/prometheus"); src != "./prometheus" {
		t.Errorf("prometheus mounts %q at /etc/prometheus, want ./prometheus", src)
	}
	cmd := getList(c.services, "prometheus", "command")
	if !slices.Contains(cmd, any("--config.file=/etc/prometheus/prometheus.yml")) {
		t.Errorf("prometheus does not run with /etc/prometheus/prometheus.yml: %v", cmd)
	}

	// Prometheus sends its alerts to the alertmanager service, which runs
	// the committed configuration.
	var alertmanagers []string
	for _, am := range getList(prom, "alerting", "alertmanagers") {
		for _, sc := range getList(am, "static_configs") {
			alertmanagers = append(alertmanagers, anyStrings(getList(sc, "targets"))...)
		}
	}
	if !slices.Equal(alertmanagers, []string{"alertmanager:9093"}) {
		t.Errorf("Prometheus sends alerts to %v, want [alertmanager:9093]", alertmanagers)
	}
	if src := c.mount("alertmanager", "/etc/alertmanager"); src != "./alertmanager" {
		t.Errorf("alertmanager mounts %q at /etc/alertmanager, want ./alertmanager", src)
	}
	if cmd := getList(c.services, "alertmanager", "command"); !slices.Contains(cmd, any("--config.file=/etc/alertmanager/alertmanager.yml")) {
		t.Errorf("alertmanager does not run with /etc/alertmanager/alertmanager.yml: %v", cmd)
	}

	// Grafana: the data source is the prometheus service, the dashboards
	// are where the provider reads them.
	ds := readYAML(t, "grafana/provisioning/datasources/prometheus.yaml")[0]
	if u := getString(ds, "datasources", 0, "url"); u != "http://prometheus:9090" {
		t.Errorf("Grafana's data source URL is %q, want http://prometheus:9090", u)
	}
	prov := readYAML(t, "grafana/provisioning/dashboards/storybot.yaml")[0]
	path := getString(prov, "providers", 0, "options", "path")
	if src := c.mount("grafana", path); src != "./grafana/dashboards" {
		t.Errorf("the dashboard provider reads %s, where Grafana mounts %q instead of ./grafana/dashboards", path, src)
	}
	if src := c.mount("grafana", "/etc/grafana/provisioning"); src != "./grafana/provisioning" {
		t.Errorf("grafana mounts %q at /etc/grafana/provisioning", src)
	}
	if home := c.env(t, "grafana")["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; !strings.HasPrefix(home, path+"/") {
		t.Errorf("Grafana's home dashboard %q is not under %s", home, path)
	} else if _, err := os.Stat(filepath.Join("grafana/dashboards", strings.TrimPrefix(home, path+"/"))); err != nil {
		t.Errorf("Grafana's home dashboard: %v", err)
	}

	// Logstash runs storybot's pipeline and finds its index template;
	// kibana-setup imports the saved objects.
	ls := loadLogstashPipeline(t)
	if src := c.mount("logstash", "/usr/share/logstash/pipeline"); src != "./logstash/pipeline" {
		t.Errorf("logstash mounts %q as its pipeline directory", src)
	}
	dir, file := filepath.Split(ls.template)
	src := c.mount("logstash", strings.TrimSuffix(dir, "/"))
	if src == "" {
		t.Errorf("the pipeline's index template %s is not mounted", ls.template)
	} else if _, err := os.Stat(filepath.Join(src, file)); err != nil {
		t.Errorf("the pipeline's index template: %v", err)
	}
	if src := c.mount("kibana-setup", "/saved-objects.ndjson"); src != "./kibana/saved-objects.ndjson" {
		t.Errorf("kibana-setup mounts %q as the saved objects", src)
	}
	if !strings.Contains(strings.Join(anyStrings(getList(c.services, "kibana-setup", "entrypoint")), " "), "/api/saved_objects/_import") {
		t.Error("kibana-setup does not call Kibana's import API")
	}
}

func anyStrings(l []any) []string {
	out := make([]string, 0, len(l))
	for _, v := range l {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

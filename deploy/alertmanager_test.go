package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storybot/storybot/internal/telemetry"
)

// Placeholders of alertmanager/alertmanager.yml that the tests replace with
// their own webhook.
const (
	teamWebhook   = "http://alerts.example.invalid/storybot/team"
	oncallWebhook = "http://alerts.example.invalid/storybot/oncall"
)

// TestAlertmanagerConfig checks the committed Alertmanager configuration with
// amtool, the way Alertmanager itself loads it.
func TestAlertmanagerConfig(t *testing.T) {
	t.Parallel()
	amtool := need(t, "amtool", "prometheus-alertmanager")
	if out, err := run(t, "alertmanager", os.Environ(), amtool, "check-config", "alertmanager.yml"); err != nil {
		t.Errorf("amtool check-config: %v\n%s", err, out)
	}
}

// runbookSections are the headings every runbook has.
var runbookSections = []string{"## What it means", "## What to check", "## What to do"}

// TestAlertRunbooks makes sure every alert links a runbook that exists, named
// after the alert, with the three sections an operator reads; and that no
// runbook is left for an alert that is gone.
func TestAlertRunbooks(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(repoRoot(t), "docs", "runbooks")
	pages := map[string]bool{}
	for _, g := range getList(readYAML(t, "prometheus/alerts.yml")[0], "groups") {
		for _, r := range getList(g, "rules") {
			name := getString(r, "alert")
			if name == "" {
				continue
			}
			pages[name+".md"] = true
			link := getString(r, "annotations", "runbook_url")
			if !strings.HasSuffix(link, "/docs/runbooks/"+name+".md") {
				t.Errorf("%s: runbook_url %q does not point at docs/runbooks/%s.md", name, link, name)
			}
			b, err := os.ReadFile(filepath.Join(dir, name+".md"))
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if !strings.HasPrefix(string(b), "# "+name+"\n") {
				t.Errorf("docs/runbooks/%s.md does not start with the heading # %s", name, name)
			}
			for _, s := range runbookSections {
				if !strings.Contains(string(b), "\n"+s+"\n") {
					t.Errorf("docs/runbooks/%s.md has no section %q", name, s)
				}
			}
			for _, m := range regexp.MustCompile(`\]\(([A-Za-z]+\.md)\)`).FindAllStringSubmatch(string(b), -1) {
				if _, err := os.Stat(filepath.Join(dir, m[1])); err != nil {
					t.Errorf("docs/runbooks/%s.md links %s: %v", name, m[1], err)
				}
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !pages[e.Name()] {
			t.Errorf("docs/runbooks/%s is the runbook of no alert", e.Name())
		}
	}
}

// webhookReceiver is the test's stand-in for the chat or paging service:
// it records what Alertmanager posts, by URL path.
type webhookReceiver struct {
	mu    sync.Mutex
	posts map[string][]amWebhook
	bad   []string
}

// amWebhook is the body of Alertmanager's webhook notification (version 4).
type amWebhook struct {
	Version  string `json:"version"`
	Receiver string `json:"receiver"`
	Status   string `json:"status"`
	Alerts   []struct {
		Status      string            `json:"status"`
		StartsAt    time.Time         `json:"startsAt"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"alerts"`
}

func (w *webhookReceiver) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var body amWebhook
	err := json.NewDecoder(r.Body).Decode(&body)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil || r.Method != http.MethodPost {
		w.bad = append(w.bad, fmt.Sprintf("%s %s: %v", r.Method, r.URL.Path, err))
		http.Error(rw, "bad notification", http.StatusBadRequest)
		return
	}
	w.posts[r.URL.Path] = append(w.posts[r.URL.Path], body)
}

// firing returns the labels and annotations of the alert named alertname
// that was posted firing to path and started at since or later, or an error.
func (w *webhookReceiver) firing(path, alertname string, since time.Time) (labels, annotations map[string]string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.bad) > 0 {
		return nil, nil, fmt.Errorf("malformed notifications: %v", w.bad)
	}
	for _, p := range w.posts[path] {
		for _, a := range p.Alerts {
			if a.Labels["alertname"] == alertname && a.Status == "firing" && !a.StartsAt.Before(since) {
				return a.Labels, a.Annotations, nil
			}
		}
	}
	return nil, nil, fmt.Errorf("no firing %s posted to %s yet (posts: %+v)", alertname, path, w.posts)
}

// TestAlertDelivery runs the alert path end to end with the committed
// files: a real Prometheus with prometheus.yml and alerts.yml scrapes one
// live replica (storybot's real metrics handler) and one dead one, fires
// StorybotReplicaDown and sends it to a real Alertmanager with
// alertmanager.yml, which routes it to the team's webhook, served here; then
// the live replica stops too, and StorybotNoReplicaUp, critical, goes to the
// on-call webhook.
//
// Only timings change: one-second scrapes and evaluations, every rule's
// "for" cut to zero, a one-second group_wait and group_interval, so that
// the test takes seconds instead of minutes; and the addresses.
func TestAlertDelivery(t *testing.T) {
	t.Parallel()
	prometheusBin := need(t, "prometheus", "prometheus")
	promtool := need(t, "promtool", "prometheus")
	alertmanagerBin := need(t, "prometheus-alertmanager", "prometheus-alertmanager")
	amtool := need(t, "amtool", "prometheus-alertmanager")
	dir := t.TempDir()
	client := &http.Client{Timeout: 5 * time.Second}
	t.Cleanup(client.CloseIdleConnections)

	hook := &webhookReceiver{posts: map[string][]amWebhook{}}
	hookSrv := httptest.NewServer(hook)
	t.Cleanup(hookSrv.Close)

	// A live replica: storybot's own metrics handler. A dead one: a port
	// where nothing listens.
	live := httptest.NewServer(telemetry.NewMetrics(telemetry.MetricsOptions{}).Handler())
	t.Cleanup(live.Close)
	liveAddr := strings.TrimPrefix(live.URL, "http://")
	deadAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))

	// Alertmanager, with the committed routes and receivers.
	amDir := filepath.Join(dir, "alertmanager")
	if err := os.MkdirAll(amDir, 0o755); err != nil {
		t.Fatal(err)
	}
	amConf := readFile(t, "alertmanager/alertmanager.yml")
	amConf = replaceOnce(t, amConf, teamWebhook, hookSrv.URL+"/team", 1)
	amConf = replaceOnce(t, amConf, oncallWebhook, hookSrv.URL+"/oncall", 1)
	amConf = replaceOnce(t, amConf, "group_wait: 30s", "group_wait: 1s", 1)
	amConf = replaceOnce(t, amConf, "group_interval: 5m", "group_interval: 1s", 1)
	amConfPath := filepath.Join(amDir, "alertmanager.yml")
	if err := os.WriteFile(amConfPath, []byte(amConf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, amDir, os.Environ(), amtool, "check-config", amConfPath); err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out)
	}
	amAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	am := start(t, dir, "alertmanager", os.Environ(), alertmanagerBin,
		"--config.file="+amConfPath,
		"--storage.path="+filepath.Join(amDir, "data"),
		"--web.listen-address="+amAddr,
		"--cluster.listen-address=", // one instance, no gossip port
		"--log.level=warn")
	waitReady(t, client, am, "http://"+amAddr+"/-/ready")

	// Prometheus, with the committed configuration and rules.
	promDir := filepath.Join(dir, "prometheus")
	if err := os.MkdirAll(promDir, 0o755); err != nil {
		t.Fatal(err)
	}
	promAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	conf := readFile(t, "prometheus/prometheus.yml")
	conf = replaceOnce(t, conf, "storybot-1:9100", liveAddr, 1)
	conf = replaceOnce(t, conf, "storybot-2:9100", deadAddr, 1)
	conf = replaceOnce(t, conf, "localhost:9090", promAddr, 1)
	conf = replaceOnce(t, conf, "alertmanager:9093", amAddr, 1)
	conf = replaceOnce(t, conf, "scrape_interval: 15s", "scrape_interval: 1s", 1)
	conf = replaceOnce(t, conf, "evaluation_interval: 15s", "evaluation_interval: 1s", 1)
	rules := readFile(t, "prometheus/alerts.yml")
	forClause := regexp.MustCompile(`(?m)^(\s+)for: \S+$`)
	if n, want := len(forClause.FindAllString(rules, -1)), len(alertRules(t)); n != want {
		t.Fatalf("alerts.yml has %d for: clauses, want one per alert (%d)", n, want)
	}
	rules = forClause.ReplaceAllString(rules, "${1}for: 0s")
	for name, content := range map[string]string{"prometheus.yml": conf, "alerts.yml": rules} {
		if err := os.WriteFile(filepath.Join(promDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := run(t, promDir, os.Environ(), promtool, "check", "config", "prometheus.yml"); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	prom := start(t, dir, "prometheus", os.Environ(), prometheusBin,
		"--config.file="+filepath.Join(promDir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(promDir, "data"),
		"--web.listen-address="+promAddr,
		"--log.level=warn")
	waitReady(t, client, prom, "http://"+promAddr+"/-/ready")

	// The dead replica: a warning, to the team, with its instance and
	// runbook.
	var labels, annotations map[string]string
	waitFor(t, 60*time.Second, "StorybotReplicaDown at the team's webhook", func() error {
		var err error
		labels, annotations, err = hook.firing("/team", "StorybotReplicaDown", time.Time{})
		return err
	})
	if labels["instance"] != deadAddr || labels["severity"] != "warning" || labels["job"] != "storybot" {
		t.Errorf("StorybotReplicaDown's labels %v, want instance %s, job storybot, severity warning", labels, deadAddr)
	}
	if !strings.HasSuffix(annotations["runbook_url"], "/docs/runbooks/StorybotReplicaDown.md") || annotations["summary"] == "" {
		t.Errorf("StorybotReplicaDown's annotations %v lack the summary or the runbook", annotations)
	}
	if _, _, err := hook.firing("/oncall", "StorybotReplicaDown", time.Time{}); err == nil {
		t.Error("a warning reached the on-call webhook")
	}

	// Every replica down: critical, to on-call. (Before the first scrape,
	// absent(up == 1) held for a moment too: with "for" cut to zero that
	// early alert may have gone out, so only one that starts after the
	// live replica stops counts.)
	stopped := time.Now().Add(-time.Second) // a margin for the evaluation that saw the stop
	live.Close()
	waitFor(t, 60*time.Second, "StorybotNoReplicaUp at the on-call webhook", func() error {
		var err error
		labels, _, err = hook.firing("/oncall", "StorybotNoReplicaUp", stopped)
		if err != nil {
			return fmt.Errorf("%w; Prometheus's alerts: %s; Alertmanager's: %s", err,
				httpBody(client, "http://"+promAddr+"/api/v1/alerts"), httpBody(client, "http://"+amAddr+"/api/v2/alerts"))
		}
		return nil
	})
	if labels["severity"] != "critical" {
		t.Errorf("StorybotNoReplicaUp's labels %v, want severity critical", labels)
	}
}

// waitReady waits until a started server answers 200 at url.
func waitReady(t *testing.T, client *http.Client, p *process, url string) {
	t.Helper()
	waitFor(t, 30*time.Second, p.name+" ready", func() error {
		if p.exited() {
			t.Fatalf("%s exited: %v\n%s", p.name, p.err, tail(readFile(t, p.log), 30))
		}
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	})
}

// httpBody returns the body of a GET, or the error, for failure messages.
func httpBody(client *http.Client, url string) string {
	resp, err := client.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

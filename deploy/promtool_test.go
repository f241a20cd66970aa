package deploy

import (
	"os"
	"strings"
	"testing"
)

// TestPromtool checks the Prometheus configuration and the alert rules with
// promtool, and runs the rules' unit tests (alerts_test.yml): each alert
// fires on the series that should fire it, and stays quiet beside them.
func TestPromtool(t *testing.T) {
	t.Parallel()
	promtool := need(t, "promtool", "prometheus")
	for _, args := range [][]string{
		{"check", "config", "prometheus.yml"},
		{"check", "rules", "alerts.yml"},
		{"test", "rules", "alerts_test.yml"},
	} {
		out, err := run(t, "prometheus", os.Environ(), promtool, args...)
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestAlertRulesAreTested makes sure alerts_test.yml shows every alert of
// alerts.yml firing at least once.
func TestAlertRulesAreTested(t *testing.T) {
	t.Parallel()
	var tested []string
	for _, tc := range getList(readYAML(t, "prometheus/alerts_test.yml")[0], "tests") {
		for _, at := range getList(tc, "alert_rule_test") {
			if len(getList(at, "exp_alerts")) > 0 {
				tested = append(tested, getString(at, "alertname"))
			}
		}
	}
	for _, r := range alertRules(t) {
		if len(missing(tested, r.name)) > 0 {
			t.Errorf("alerts_test.yml never shows %s firing", r.name)
		}
	}
}

// alertRule is one rule of alerts.yml.
type alertRule struct {
	name, expr string
}

func alertRules(t testing.TB) []alertRule {
	t.Helper()
	var rules []alertRule
	for _, g := range getList(readYAML(t, "prometheus/alerts.yml")[0], "groups") {
		for _, r := range getList(g, "rules") {
			if name := getString(r, "alert"); name != "" {
				rules = append(rules, alertRule{name: name, expr: getString(r, "expr")})
			}
		}
	}
	if len(rules) == 0 {
		t.Fatal("alerts.yml has no alerts")
	}
	return rules
}

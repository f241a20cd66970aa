package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/internal/config"
)

// k8sObject is one manifest of deploy/k8s.
type k8sObject struct {
	file string
	doc  map[string]any
}

func (o k8sObject) kind() string { return getString(o.doc, "kind") }
func (o k8sObject) name() string { return getString(o.doc, "metadata", "name") }

func loadK8s(t *testing.T) map[string]k8sObject {
	t.Helper()
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objects := map[string]k8sObject{}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		for _, doc := range readYAML(t, f) {
			o := k8sObject{file: filepath.Base(f), doc: doc}
			if getString(doc, "apiVersion") == "" || o.kind() == "" || o.name() == "" {
				t.Errorf("%s: a document without apiVersion, kind or metadata.name", f)
				continue
			}
			if _, dup := objects[o.kind()]; dup {
				t.Errorf("%s: a second %s", f, o.kind())
			}
			objects[o.kind()] = o
		}
	}
	return objects
}

// TestKubernetesManifests checks the manifests of deploy/k8s against each
// other and against storybot: the kinds an operator needs, probes on the
// real health endpoints, ports that storybot's settings really open,
// selectors that select the pods, settings that storybot accepts.
func TestKubernetesManifests(t *testing.T) {
	t.Parallel()
	objects := loadK8s(t)
	wantKinds := map[string]string{
		"Deployment":              "apps/v1",
		"Service":                 "v1",
		"HorizontalPodAutoscaler": "autoscaling/v2",
		"PodDisruptionBudget":     "policy/v1",
		"ConfigMap":               "v1",
		"Secret":                  "v1",
	}
	for kind, api := range wantKinds {
		o, ok := objects[kind]
		if !ok {
			t.Errorf("no %s in deploy/k8s", kind)
			continue
		}
		if got := getString(o.doc, "apiVersion"); got != api {
			t.Errorf("%s: apiVersion %q, want %q", kind, got, api)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	deploy, svc, hpa, pdb, cm, secret := objects["Deployment"], objects["Service"], objects["HorizontalPodAutoscaler"], objects["PodDisruptionBudget"], objects["ConfigMap"], objects["Secret"]

	// Settings: every key is one storybot reads, and together they load.
	settings := stringMap(t, getMap(cm.doc, "data"))
	secrets := stringMap(t, getMap(secret.doc, "stringData"))
	env := map[string]string{}
	for _, m := range []map[string]string{settings, secrets} {
		for k, v := range m {
			if !slices.ContainsFunc(config.Settings(), func(s config.Setting) bool { return s.Env == k }) {
				t.Errorf("%s sets %s, which storybot does not read", k, k)
			}
			env[k] = v
		}
	}
	for k, v := range secrets {
		if !strings.Contains(v, "REPLACE_ME") {
			t.Errorf("secret.example.yaml: %s = %q holds no REPLACE_ME placeholder", k, v)
		}
	}
	if _, ok := secrets["DATABASE_URL"]; !ok {
		t.Error("the Secret example has no DATABASE_URL: replicas must share Postgres")
	}
	cfg, err := config.Load(nil, func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatalf("storybot rejects the ConfigMap and Secret: %v", err)
	}
	if !cfg.Production() {
		t.Error("the ConfigMap does not set STORYBOT_ENV=production")
	}
	if cfg.MetricsAddr == "" {
		t.Error("the ConfigMap does not give /metrics a listener of its own (STORYBOT_METRICS_ADDR)")
	}

	// The pod template.
	spec := getMap(deploy.doc, "spec")
	podLabels := stringMap(t, getMap(spec, "template", "metadata", "labels"))
	selects := func(what string, selector map[string]any) {
		t.Helper()
		sel := stringMap(t, selector)
		if len(sel) == 0 {
			t.Errorf("%s has an empty selector", what)
		}
		for k, v := range sel {
			if podLabels[k] != v {
				t.Errorf("%s selects %s=%s, which the pods do not carry", what, k, v)
			}
		}
	}
	selects("the Deployment", getMap(spec, "selector", "matchLabels"))
	selects("the Service", getMap(svc.doc, "spec", "selector"))
	selects("the PodDisruptionBudget", getMap(pdb.doc, "spec", "selector", "matchLabels"))

	containers := getList(spec, "template", "spec", "containers")
	if len(containers) != 1 {
		t.Fatalf("the pod has %d containers, want 1", len(containers))
	}
	c := containers[0]
	ports := map[string]int{}
	for _, p := range getList(c, "ports") {
		ports[getString(p, "name")] = getInt(p, "containerPort")
	}
	if ports["http"] != portOf(t, cfg.Addr) {
		t.Errorf("container port http is %d; STORYBOT_ADDR listens on %d", ports["http"], portOf(t, cfg.Addr))
	}
	if ports["metrics"] != portOf(t, cfg.MetricsAddr) {
		t.Errorf("container port metrics is %d; STORYBOT_METRICS_ADDR listens on %d", ports["metrics"], portOf(t, cfg.MetricsAddr))
	}
	annotations := stringMap(t, getMap(spec, "template", "metadata", "annotations"))
	if annotations["prometheus.io/port"] != strconv.Itoa(ports["metrics"]) || annotations["prometheus.io/path"] != "/metrics" {
		t.Errorf("prometheus.io annotations %v do not point at the metrics port %d", annotations, ports["metrics"])
	}
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/healthz"} {
		if got := getString(c, probe, "httpGet", "path"); got != path {
			t.Errorf("%s path %q, want %q", probe, got, path)
		}
		port := get(c, probe, "httpGet", "port")
		if port != "http" && getInt(c, probe, "httpGet", "port") != ports["http"] {
			t.Errorf("%s probes port %v, not the http port", probe, port)
		}
	}
	var refs []string
	for _, ef := range getList(c, "envFrom") {
		if n := getString(ef, "configMapRef", "name"); n != "" {
			refs = append(refs, "ConfigMap/"+n)
		}
		if n := getString(ef, "secretRef", "name"); n != "" {
			refs = append(refs, "Secret/"+n)
		}
	}
	if m := missing(refs, "ConfigMap/"+cm.name(), "Secret/"+secret.name()); len(m) > 0 {
		t.Errorf("the container's envFrom lacks %v", m)
	}
	if getString(c, "env", 0, "name") != "STORYBOT_REPLICA_ID" || getString(c, "env", 0, "valueFrom", "fieldRef", "fieldPath") != "metadata.name" {
		t.Error("STORYBOT_REPLICA_ID is not the pod's name")
	}
	// GOMEMLIMIT is the container's memory limit, through the downward API.
	var memlimit any
	for _, e := range getList(c, "env") {
		if getString(e, "name") == "GOMEMLIMIT" {
			memlimit = get(e, "valueFrom", "resourceFieldRef")
		}
	}
	if getString(memlimit, "resource") != "limits.memory" || getString(memlimit, "containerName") != getString(c, "name") {
		t.Errorf("GOMEMLIMIT is not the container's memory limit: %v", memlimit)
	}
	if d := get(memlimit, "divisor"); d != nil && fmt.Sprint(d) != "1" {
		t.Errorf("GOMEMLIMIT's divisor %v: Go reads a plain number as bytes", d)
	}
	if getString(c, "resources", "limits", "memory") == "" {
		t.Error("the container has no memory limit for GOMEMLIMIT to follow")
	}
	if get(spec, "template", "spec", "securityContext", "runAsNonRoot") != true {
		t.Error("the pod may run as root")
	}
	// The pod gets time for the preStop pause and storybot's own graceful
	// shutdown before it is killed.
	grace := time.Duration(getInt(spec, "template", "spec", "terminationGracePeriodSeconds")) * time.Second
	preStop := time.Duration(max(0, getInt(c, "lifecycle", "preStop", "sleep", "seconds"))) * time.Second
	if grace <= preStop+cfg.ShutdownTimeout {
		t.Errorf("terminationGracePeriodSeconds %s leaves no margin after preStop %s and STORYBOT_SHUTDOWN_TIMEOUT %s", grace, preStop, cfg.ShutdownTimeout)
	}

	// The Service sends its ports to the container's.
	for _, p := range getList(svc.doc, "spec", "ports") {
		target := get(p, "targetPort")
		if _, ok := ports[fmt.Sprint(target)]; !ok {
			t.Errorf("the Service's port %s targets %v, which the container does not name", getString(p, "name"), target)
		}
	}

	// The autoscaler scales this Deployment, never below two replicas,
	// and the budget lets drains proceed.
	if getString(hpa.doc, "spec", "scaleTargetRef", "kind") != "Deployment" || getString(hpa.doc, "spec", "scaleTargetRef", "name") != deploy.name() {
		t.Errorf("the HorizontalPodAutoscaler does not target the Deployment %s", deploy.name())
	}
	if minReplicas := getInt(hpa.doc, "spec", "minReplicas"); minReplicas < 2 {
		t.Errorf("minReplicas %d: one replica cannot be drained without downtime", minReplicas)
	}
	if get(pdb.doc, "spec", "maxUnavailable") == nil && get(pdb.doc, "spec", "minAvailable") == nil {
		t.Error("the PodDisruptionBudget sets neither maxUnavailable nor minAvailable")
	}

	// kustomization.yaml lists every manifest but the Secret example, and
	// renames the image the Deployment runs.
	kust := readYAML(t, "k8s/kustomization.yaml")[0]
	var resources []string
	for _, r := range getList(kust, "resources") {
		resources = append(resources, r.(string))
		if _, err := os.Stat(filepath.Join("k8s", r.(string))); err != nil {
			t.Errorf("kustomization.yaml: %v", err)
		}
	}
	for _, o := range objects {
		listed := slices.Contains(resources, o.file)
		if o.file == "secret.example.yaml" && listed {
			t.Error("kustomization.yaml applies the Secret example and its placeholders")
		}
		if o.file != "secret.example.yaml" && !listed {
			t.Errorf("kustomization.yaml does not list %s", o.file)
		}
	}
	if getString(kust, "images", 0, "name") != getString(c, "image") {
		t.Errorf("kustomization.yaml renames the image %q, the Deployment runs %q", getString(kust, "images", 0, "name"), getString(c, "image"))
	}
}

// TestKubernetesMonitoring checks deploy/k8s/monitoring, the Prometheus
// Operator's objects: the ServiceMonitor scrapes the Service's metrics port
// under the job name the rules and the dashboard use, and the
// PrometheusRule holds exactly the rules of prometheus/alerts.yml (which
// promtool and their unit tests check).
func TestKubernetesMonitoring(t *testing.T) {
	t.Parallel()
	objects := map[string]map[string]any{}
	kust := readYAML(t, "k8s/monitoring/kustomization.yaml")[0]
	for _, r := range getList(kust, "resources") {
		for _, doc := range readYAML(t, filepath.Join("k8s/monitoring", r.(string))) {
			if getString(doc, "apiVersion") != "monitoring.coreos.com/v1" {
				t.Errorf("%s: apiVersion %q, want monitoring.coreos.com/v1", r, getString(doc, "apiVersion"))
			}
			objects[getString(doc, "kind")] = doc
		}
	}
	files, _ := filepath.Glob("k8s/monitoring/*.yaml")
	if len(files) != len(getList(kust, "resources"))+1 {
		t.Errorf("k8s/monitoring has %d files, its kustomization.yaml lists %d", len(files)-1, len(getList(kust, "resources")))
	}
	sm, rule := objects["ServiceMonitor"], objects["PrometheusRule"]
	if sm == nil || rule == nil {
		t.Fatalf("k8s/monitoring lacks a ServiceMonitor or a PrometheusRule: %v", objects)
	}

	svc := readYAML(t, "k8s/service.yaml")[0]
	svcLabels := stringMap(t, getMap(svc, "metadata", "labels"))
	for k, v := range stringMap(t, getMap(sm, "spec", "selector", "matchLabels")) {
		if svcLabels[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%s, which the Service does not carry", k, v)
		}
	}
	if job := svcLabels[getString(sm, "spec", "jobLabel")]; job != "storybot" {
		t.Errorf("the ServiceMonitor's job would be %q (jobLabel %q), want storybot: the rules and dashboard use job=\"storybot\"",
			job, getString(sm, "spec", "jobLabel"))
	}
	endpoints := getList(sm, "spec", "endpoints")
	if len(endpoints) != 1 {
		t.Fatalf("the ServiceMonitor has %d endpoints, want 1", len(endpoints))
	}
	ep := endpoints[0]
	var target any
	for _, p := range getList(svc, "spec", "ports") {
		if getString(p, "name") == getString(ep, "port") {
			target = get(p, "targetPort")
		}
	}
	if target != "metrics" || getString(ep, "path") != "/metrics" {
		t.Errorf("the ServiceMonitor scrapes port %q path %q; want the Service port that targets the container's metrics port, /metrics",
			getString(ep, "port"), getString(ep, "path"))
	}
	if getString(ep, "relabelings", 0, "targetLabel") != "instance" || getString(ep, "relabelings", 0, "sourceLabels", 0) != "__meta_kubernetes_pod_name" {
		t.Errorf("the ServiceMonitor does not name instances by pod: %v", get(ep, "relabelings"))
	}

	if want := get(readYAML(t, "prometheus/alerts.yml")[0], "groups"); !reflect.DeepEqual(get(rule, "spec", "groups"), want) {
		t.Error("the PrometheusRule's groups differ from prometheus/alerts.yml: copy them again")
	}
}

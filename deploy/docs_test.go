package deploy

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/storybot/storybot/internal/telemetry"
)

// metricDocs are the documents that name metrics, relative to the
// repository's root.
var metricDocs = []string{
	"README.md",
	"deploy/README.md",
	"internal/telemetry/README.md",
	"docs/runbooks",
}

// notMetrics are names in the documents that look like metrics and are not.
var notMetrics = map[string]bool{
	"storybot_session": true, // the session cookie
}

// docMetricName matches a metric name in prose: a family name (a pattern
// such as go_* or a nginx $variable is left out).
var docMetricName = regexp.MustCompile(`(^|[^$\w])((?:graphql|http|storybot|go|process)_[a-z0-9_]*[a-z0-9])\b([*]?)`)

// exportedFamilies returns every series name storybot's /metrics can serve,
// histograms with their _bucket, _sum and _count series; and own, the
// families storybot defines itself. Those are read from the source: every
// prometheus.*Opts literal in the module, since a labelled family has no
// series until its first observation. client_golang's collectors (go_*,
// process_*, go_sql_*) are gathered from a registry set up as the server
// sets it up.
func exportedFamilies(t *testing.T) (names map[string]bool, own []string) {
	t.Helper()
	names = map[string]bool{}
	add := func(name string, histogram bool) {
		names[name] = true
		if histogram {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[name+suffix] = true
			}
		}
	}

	m := telemetry.NewMetrics(telemetry.MetricsOptions{})
	db := sql.OpenDB(noDatabase{})
	t.Cleanup(func() { db.Close() })
	if err := m.RegisterDB(db, "storybot"); err != nil {
		t.Fatal(err)
	}
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if name := f.GetName(); strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			add(name, f.GetType() == dto.MetricType_HISTOGRAM)
		}
	}

	root := repoRoot(t)
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			sel, ok := lit.Type.(*ast.SelectorExpr)
			if !ok || !isIdent(sel.X, "prometheus") || !strings.HasSuffix(sel.Sel.Name, "Opts") {
				return true
			}
			parts := map[string]string{}
			for _, e := range lit.Elts {
				kv, ok := e.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				key, _ := kv.Key.(*ast.Ident)
				if key == nil || (key.Name != "Namespace" && key.Name != "Subsystem" && key.Name != "Name") {
					continue
				}
				bl, ok := kv.Value.(*ast.BasicLit)
				if !ok || bl.Kind != token.STRING {
					t.Errorf("%s: a metric's %s is not a string literal; this test cannot read it", fset.Position(kv.Pos()), key.Name)
					continue
				}
				parts[key.Name], _ = strconv.Unquote(bl.Value)
			}
			if parts["Name"] == "" {
				return true
			}
			name := prometheus.BuildFQName(parts["Namespace"], parts["Subsystem"], parts["Name"])
			add(name, sel.Sel.Name == "HistogramOpts" || sel.Sel.Name == "SummaryOpts")
			own = append(own, name)
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(own) == 0 {
		t.Fatal("found no metric definitions in the source")
	}
	return names, own
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// TestDocsNameRealMetrics checks the metrics the documentation names
// against what storybot exports, both ways for the telemetry README's table:
// every metric a document names exists, and every metric of storybot's own
// is in the table.
func TestDocsNameRealMetrics(t *testing.T) {
	t.Parallel()
	exported, own := exportedFamilies(t)
	root := repoRoot(t)
	var files []string
	for _, d := range metricDocs {
		matches, err := filepath.Glob(filepath.Join(root, d, "*.md"))
		if err != nil {
			t.Fatal(err)
		}
		if len(matches) == 0 {
			matches = []string{filepath.Join(root, d)}
		}
		files = append(files, matches...)
	}
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		for _, m := range docMetricName.FindAllStringSubmatch(readFile(t, f), -1) {
			name, pattern := m[2], m[3] == "*"
			if pattern || notMetrics[name] {
				continue
			}
			if !exported[name] {
				t.Errorf("%s names %s, which storybot does not export", rel, name)
			}
		}
	}
	table := readFile(t, filepath.Join(root, "internal/telemetry/README.md"))
	for _, name := range own {
		if !strings.Contains(table, "| `"+name+"` |") {
			t.Errorf("internal/telemetry/README.md's metrics table lacks %s", name)
		}
	}
}

// noDatabase is a database/sql connector that never connects: the pool
// statistics collector only reads the pool's counters.
type noDatabase struct{}

func (noDatabase) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("no database")
}

func (noDatabase) Driver() driver.Driver { return noDriver{} }

type noDriver struct{}

func (noDriver) Open(string) (driver.Conn, error) { return nil, errors.New("no database") }

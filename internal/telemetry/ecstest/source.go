package ecstest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// attrConstructors are log/slog's functions whose first argument is an
// attribute's key.
var attrConstructors = map[string]bool{
	"String": true, "Int": true, "Int64": true, "Uint64": true, "Float64": true,
	"Bool": true, "Time": true, "Duration": true, "Any": true, "Group": true,
}

// kvStart is, for the logging methods and functions of log/slog, the index
// of their first key-value argument: the ones before are the context, the
// level and the message.
var kvStart = map[string]int{
	"Debug": 1, "Info": 1, "Warn": 1, "Error": 1,
	"DebugContext": 2, "InfoContext": 2, "WarnContext": 2, "ErrorContext": 2,
	"Log": 3, "With": 0,
}

// SourceKey is one log key found in Go source, and where.
type SourceKey struct {
	Key string
	Pos token.Position
}

// SourceScan is what ScanSource found.
type SourceScan struct {
	// Keys are the log keys, sorted.
	Keys []SourceKey
	// Unreadable are the places of keys that are no constant string (and
	// of WithGroup calls), which the scan cannot check.
	Unreadable []string
}

// ScanSource reads the Go files under root (tests, node_modules and
// testdata left out) and collects every log key they can write: the keys of
// slog's attribute constructors (slog.String("k", v), ..., with slog.Group's
// key as a prefix of its members'), of slog.Attr{Key: "k"} literals, and the
// key-value arguments of slog's logging calls (log.Info("msg", "k", v),
// With, Log). A key must be a string literal or a string constant; any
// other is reported in Unreadable.
func ScanSource(root string) (SourceScan, error) {
	fset := token.NewFileSet()
	// Files by package directory, to resolve each package's constants.
	pkgs := map[string][]*ast.File{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (n == "node_modules" || n == "testdata" || strings.HasPrefix(n, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		pkgs[filepath.Dir(path)] = append(pkgs[filepath.Dir(path)], f)
		return nil
	})
	if err != nil {
		return SourceScan{}, err
	}
	// String constants, by package directory and by package name (for
	// pkg.Name from another package).
	consts := map[string]map[string]string{}
	byPkgName := map[string]map[string]string{}
	for dir, files := range pkgs {
		consts[dir] = map[string]string{}
		for _, f := range files {
			if byPkgName[f.Name.Name] == nil {
				byPkgName[f.Name.Name] = map[string]string{}
			}
			for _, decl := range f.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok || gd.Tok != token.CONST {
					continue
				}
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, name := range vs.Names {
						if i < len(vs.Values) {
							if s, ok := stringLit(vs.Values[i]); ok {
								consts[dir][name.Name] = s
								byPkgName[f.Name.Name][name.Name] = s
							}
						}
					}
				}
			}
		}
	}

	var scan SourceScan
	for dir, files := range pkgs {
		for _, f := range files {
			imports := map[string]bool{}
			for _, im := range f.Imports {
				p, _ := strconv.Unquote(im.Path.Value)
				name := p[strings.LastIndex(p, "/")+1:]
				if im.Name != nil {
					name = im.Name.Name
				}
				imports[name] = true
			}
			resolve := func(e ast.Expr) (string, bool) {
				if s, ok := stringLit(e); ok {
					return s, true
				}
				switch e := e.(type) {
				case *ast.Ident:
					s, ok := consts[dir][e.Name]
					return s, ok
				case *ast.SelectorExpr:
					if x, ok := e.X.(*ast.Ident); ok && imports[x.Name] {
						s, ok := byPkgName[x.Name][e.Sel.Name]
						return s, ok
					}
				case *ast.BinaryExpr:
					if e.Op == token.ADD {
						// A key built from constants, such as prefix + "id".
						return "", false
					}
				}
				return "", false
			}
			// prefix holds the group prefix of the attribute constructors
			// that are direct members of a slog.Group.
			prefix := map[*ast.CallExpr]string{}
			add := func(key string, pos token.Pos) {
				scan.Keys = append(scan.Keys, SourceKey{Key: key, Pos: fset.Position(pos)})
			}
			unreadable := func(pos token.Pos) {
				scan.Unreadable = append(scan.Unreadable, fset.Position(pos).String())
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CompositeLit:
					if sel, ok := n.Type.(*ast.SelectorExpr); ok && isPkg(sel.X, "slog") && sel.Sel.Name == "Attr" {
						for _, e := range n.Elts {
							if kv, ok := e.(*ast.KeyValueExpr); ok && isIdentNamed(kv.Key, "Key") {
								if k, ok := resolve(kv.Value); ok {
									add(k, kv.Pos())
								} else {
									unreadable(kv.Pos())
								}
							}
						}
					}
				case *ast.CallExpr:
					sel, ok := n.Fun.(*ast.SelectorExpr)
					if !ok {
						return true
					}
					name := sel.Sel.Name
					if isPkg(sel.X, "slog") && attrConstructors[name] {
						if len(n.Args) == 0 {
							return true
						}
						k, ok := resolve(n.Args[0])
						if !ok {
							unreadable(n.Pos())
							return true
						}
						full := prefix[n] + k
						if name == "Group" {
							for _, a := range n.Args[1:] {
								if c, ok := a.(*ast.CallExpr); ok {
									prefix[c] = full + "."
								}
							}
							return true
						}
						add(full, n.Pos())
						return true
					}
					if name == "WithGroup" {
						// A group named here puts every later key under a
						// prefix that this scan cannot follow (storybot
						// uses none); a handler passing its caller's group
						// on (h.inner.WithGroup(name)) adds no key.
						if len(n.Args) == 1 {
							if _, ok := resolve(n.Args[0]); ok {
								unreadable(n.Pos())
							}
						}
						return true
					}
					start, isLog := kvStart[name]
					if !isLog {
						return true
					}
					// A function of another package (http.Error, errors.New)
					// is no logger; slog's own functions and any method are
					// taken for slog's.
					if x, ok := sel.X.(*ast.Ident); ok && imports[x.Name] && x.Name != "slog" {
						return true
					}
					for i := start; i < len(n.Args); i++ {
						if n.Ellipsis.IsValid() && i == len(n.Args)-1 {
							break // a []any or []slog.Attr built elsewhere: its attributes are scanned there
						}
						a := n.Args[i]
						if k, ok := resolve(a); ok {
							add(k, a.Pos())
							i++ // its value
							continue
						}
						if _, ok := a.(*ast.BasicLit); ok {
							unreadable(a.Pos())
						}
					}
				}
				return true
			})
		}
	}
	slices.SortFunc(scan.Keys, func(a, b SourceKey) int { return strings.Compare(a.Key, b.Key) })
	return scan, nil
}

func stringLit(e ast.Expr) (string, bool) {
	bl, ok := e.(*ast.BasicLit)
	if !ok || bl.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(bl.Value)
	return s, err == nil
}

func isPkg(e ast.Expr, name string) bool { return isIdentNamed(e, name) }

func isIdentNamed(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

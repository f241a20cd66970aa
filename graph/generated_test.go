package graph

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
	"testing"
)

// TestGeneratedInvariants checks the committed generated.go for what
// cmd/trimgen must have left, independently of trimgen's own code: a list is
// marshalled sequentially exactly when its elements cannot reach a
// concurrently resolved field (whose resolver may do I/O), else by
// marshalBySelection, which keeps the concurrent form for the queries that
// reach one; concurrentlyResolved lists exactly those fields; and only
// objects with such fields keep a group for @defer, made by deferredGroup.
func TestGeneratedInvariants(t *testing.T) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "generated.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}

	calls := map[string]map[string]bool{} // executionContext methods each calls
	concurrent := map[string]bool{}       // objects resolving a field concurrently
	resolved := map[[2]string]bool{}      // the fields they so resolve (not root ones)
	objects := map[string]*ast.FuncDecl{}
	for _, d := range file.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv == nil || fn.Body == nil {
			continue
		}
		name := fn.Name.Name
		calls[name] = map[string]bool{}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CaseClause:
				ast.Inspect(n, func(m ast.Node) bool {
					if c, ok := m.(*ast.CallExpr); ok {
						if sel, ok := c.Fun.(*ast.SelectorExpr); ok && (sel.Sel.Name == "ResolveConcurrently" || sel.Sel.Name == "Concurrently") {
							for _, e := range n.List {
								resolved[[2]string{strings.TrimPrefix(name, "_"), strings.Trim(e.(*ast.BasicLit).Value, `"`)}] = true
							}
						}
					}
					return true
				})
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok {
					switch {
					case id.Name == "ec":
						calls[name][n.Sel.Name] = true
					case id.Name == "out" && (n.Sel.Name == "Concurrently" || n.Sel.Name == "ResolveConcurrently" || n.Sel.Name == "ResolveRootConcurrently"):
						concurrent[name] = true
					case id.Name == "graphql" && n.Sel.Name == "NewFieldSet":
						objects[name] = fn
					case id.Name == "graphql" && n.Sel.Name == "NewDeferredGroup":
						t.Errorf("%s: %s still calls graphql.NewDeferredGroup", fset.Position(n.Pos()), name)
					}
				}
			case *ast.GoStmt:
				concurrent[name] = true
			}
			return true
		})
	}

	var reaches func(name string, seen map[string]bool) bool
	reaches = func(name string, seen map[string]bool) bool {
		if seen[name] {
			return false
		}
		seen[name] = true
		if concurrent[name] && objects[name] != nil {
			return true
		}
		for c := range calls[name] {
			if reaches(c, seen) {
				return true
			}
		}
		return false
	}

	var sequential, kept int
	for _, d := range file.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			var isSequential bool
			switch f := call.Fun.(type) {
			case *ast.Ident:
				switch f.Name {
				case "marshalSequentially":
					isSequential = true
				case "marshalBySelection":
				default:
					return true
				}
			case *ast.SelectorExpr:
				if f.Sel.Name == "MarshalSliceConcurrently" {
					t.Errorf("%s: %s calls graphql.MarshalSliceConcurrently: trimgen missed it", fset.Position(call.Pos()), fn.Name.Name)
				}
				return true
			default:
				return true
			}
			lit := call.Args[len(call.Args)-1].(*ast.FuncLit)
			ret := lit.Body.List[len(lit.Body.List)-1].(*ast.ReturnStmt)
			element := ret.Results[0].(*ast.CallExpr).Fun.(*ast.SelectorExpr).Sel.Name
			needs := reaches(element, map[string]bool{})
			switch {
			case isSequential && needs:
				t.Errorf("%s: %s marshals a list of %s sequentially, but its elements reach a concurrently resolved field",
					fset.Position(call.Pos()), fn.Name.Name, element)
			case !isSequential && !needs:
				t.Errorf("%s: %s marshals a list of %s by selection, though its elements resolve from memory",
					fset.Position(call.Pos()), fn.Name.Name, element)
			case isSequential:
				sequential++
			default:
				kept++
			}
			return true
		})
	}
	// storybot's schema has both kinds: edges resolve from memory, and
	// prompts and stories have resolved fields (Prompt.stories, Story.text).
	if sequential == 0 || kept == 0 {
		t.Errorf("%d lists sequential and %d concurrent: want some of each", sequential, kept)
	}

	names := map[string]bool{}
	for k := range resolved {
		names[k[1]] = true
	}
	if !reflect.DeepEqual(concurrentlyResolved.objects, resolved) || !reflect.DeepEqual(concurrentlyResolved.names, names) {
		t.Errorf("concurrentlyResolved = %v, want the concurrently resolved fields of generated.go: %v, %v", concurrentlyResolved, resolved, names)
	}
	if !concurrentlyResolved.objects[[2]string{"Prompt", "stories"}] {
		t.Error("Prompt.stories is not in concurrentlyResolved")
	}

	for name, fn := range objects {
		var group, process bool
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				switch f := call.Fun.(type) {
				case *ast.Ident:
					group = group || f.Name == "deferredGroup"
				case *ast.SelectorExpr:
					process = process || f.Sel.Name == "ProcessDeferredGroup"
				}
			}
			return true
		})
		if group != concurrent[name] || process != concurrent[name] {
			t.Errorf("%s: a deferred group made %v and processed %v; want both %v (whether it resolves a field concurrently)",
				name, group, process, concurrent[name])
		}
	}
	for _, name := range []string{"_Prompt", "_Story", "_Query"} {
		if !concurrent[name] {
			t.Errorf("%s resolves no field concurrently: the schema changed, or the test lost its way", name)
		}
	}
	for _, name := range []string{"_PromptEdge", "_StoryEdge", "_PageInfo"} {
		if objects[name] == nil || concurrent[name] {
			t.Errorf("%s: not an in-memory object marshaller", name)
		}
	}
}

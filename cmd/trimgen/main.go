// Command trimgen removes from gqlgen's generated code two costs that
// storybot's queries do not need, by the profiles in docs/PERFORMANCE.md.
// gqlgen has no option for either, so `make generate` runs it after gqlgen:
//
//	go run ./cmd/trimgen graph/generated.go
//
// It works on the syntax tree of generated.go and changes only calls and
// statements it recognises:
//
//  1. gqlgen marshals every list of objects with
//     graphql.MarshalSliceConcurrently, a goroutine per element, so that
//     element resolvers may run in parallel. A list whose elements cannot
//     reach a concurrently resolved field (a field resolver, which may do
//     I/O, such as an Ent edge that falls back to a query) gains nothing
//     from the goroutines: its call becomes one of marshalSequentially
//     (graph/marshal.go). A list whose elements can reach one, however deep,
//     keeps the concurrent form for the queries that ask for one: its call
//     becomes one of marshalBySelection (graph/marshal.go), which calls
//     graphql.MarshalSliceConcurrently when the elements' selection reaches
//     a field of concurrentlyResolved, tables trimgen appends to the file,
//     and marshalSequentially otherwise.
//  2. Every object marshalled starts a group for @defer fragments, which
//     walks the context for the field's path and allocates a map and a
//     field set. Objects without concurrently resolved fields never add to
//     it, so their group is removed; the others get theirs from
//     deferredGroup (graph/marshal.go), which allocates one only when a
//     field is deferred.
//
// It fails, and with it `make generate`, on any group, list call or object
// it does not recognise, and when the module requires a gqlgen version
// other than the one it was checked against: gqlgen's output may then have
// changed, and the rewrites must be checked again by hand.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"sort"
	"strings"

	"golang.org/x/tools/go/ast/astutil"
)

// checkedGQLGen is the gqlgen version whose output trimgen was checked
// against.
const checkedGQLGen = "v0.17.98"

const gqlgenModule = "github.com/99designs/gqlgen"

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: trimgen FILE")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "trimgen:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", gqlgenModule).Output()
	if err != nil {
		return fmt.Errorf("reading the version of %s from the module graph: %w", gqlgenModule, err)
	}
	if err := checkVersion(strings.TrimSpace(string(out))); err != nil {
		return err
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	trimmed, err := trim(src)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, trimmed, 0o644)
}

// checkVersion fails on any gqlgen version but the one checked against.
func checkVersion(v string) error {
	if v != checkedGQLGen {
		return fmt.Errorf("the module requires %s %s, but trimgen was checked against %s: "+
			"compare gqlgen's object.gotpl and type.gotpl output (graphql.NewDeferredGroup, "+
			"ProcessDeferredGroup, MarshalSliceConcurrently, FieldSet methods) with the forms in "+
			"cmd/trimgen, update them and its tests, then checkedGQLGen",
			gqlgenModule, v, checkedGQLGen)
	}
	return nil
}

// The FieldSet members an object marshaller may use, and whether each
// resolves a field concurrently.
var fieldSetMembers = map[string]bool{
	"Values":                  false,
	"Invalids":                false,
	"Dispatch":                false,
	"Concurrently":            true,
	"ResolveConcurrently":     true,
	"ResolveRootConcurrently": true,
}

// object is one of gqlgen's object marshallers: a method that builds a
// graphql.FieldSet named out.
type object struct {
	decl       *ast.FuncDecl
	concurrent bool            // it resolves a field concurrently
	fields     []string        // the fields it resolves concurrently
	newGroup   *ast.AssignStmt // deferred := graphql.NewDeferredGroup(ctx)
	process    *ast.IfStmt     // if n := len(deferred.Defers); n > 0 {...}
}

// list is one call of graphql.MarshalSliceConcurrently.
type list struct {
	call    *ast.CallExpr
	element string // the executionContext method marshalling an element
}

// trim returns src, gqlgen's generated.go, with both rewrites done.
func trim(src []byte) ([]byte, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "generated.go", src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	var errs []error
	fail := func(n ast.Node, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", fset.Position(n.Pos()), fmt.Sprintf(format, args...)))
	}

	methods := map[string]*ast.FuncDecl{}
	calls := map[string][]string{} // the executionContext methods each calls
	objects := map[string]*object{}
	var lists []list
	for _, d := range file.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Body == nil || !isContextMethod(fn) {
			if ok && fn.Body != nil {
				checkOutside(fn, fail)
			}
			continue
		}
		name := fn.Name.Name
		methods[name] = fn
		calls[name] = calledMethods(fn)
		if o := parseObject(fn, fail); o != nil {
			objects[name] = o
		} else {
			checkOutside(fn, fail)
		}
		lists = append(lists, parseLists(fn, fail)...)
	}
	if len(lists) == 0 {
		errs = append(errs, errors.New("no call of graphql.MarshalSliceConcurrently found: gqlgen's output changed"))
	}
	if len(objects) == 0 {
		errs = append(errs, errors.New("no object marshaller found: gqlgen's output changed"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	// reaches reports whether marshalling with method name can reach an
	// object that resolves a field concurrently.
	memo := map[string]bool{}
	var reaches func(name string, seen map[string]bool) bool
	reaches = func(name string, seen map[string]bool) bool {
		if v, ok := memo[name]; ok {
			return v
		}
		if seen[name] {
			return false
		}
		seen[name] = true
		if o := objects[name]; o != nil && o.concurrent {
			memo[name] = true
			return true
		}
		for _, c := range calls[name] {
			if reaches(c, seen) {
				memo[name] = true
				return true
			}
		}
		return false
	}
	for _, l := range lists {
		if _, ok := methods[l.element]; !ok {
			return nil, fmt.Errorf("%s: the list's element marshaller %s is not in the file", fset.Position(l.call.Pos()), l.element)
		}
		fun := l.call.Fun.(*ast.SelectorExpr)
		if reaches(l.element, map[string]bool{}) {
			l.call.Fun = &ast.Ident{NamePos: fun.Pos(), Name: "marshalBySelection"}
			l.call.Args = []ast.Expr{l.call.Args[0], &ast.Ident{NamePos: l.call.Args[1].Pos(), Name: "sel"},
				&ast.UnaryExpr{OpPos: l.call.Args[1].Pos(), Op: token.AND, X: &ast.Ident{NamePos: l.call.Args[1].Pos(), Name: "concurrentlyResolved"}},
				l.call.Args[1], l.call.Args[4]}
			continue
		}
		l.call.Fun = &ast.Ident{NamePos: fun.Pos(), Name: "marshalSequentially"}
		l.call.Args = []ast.Expr{l.call.Args[0], l.call.Args[1], l.call.Args[4]}
	}

	// The tables of the fields resolved concurrently, by object and by name.
	var byObject []string
	byName := map[string]bool{}
	for name, o := range objects {
		if o.concurrent && o.decl.Type.Params.NumFields() == 3 { // not a root object
			if len(o.fields) == 0 {
				return nil, fmt.Errorf("%s: resolves concurrently, but no field of its own does", name)
			}
			for _, f := range o.fields {
				byObject = append(byObject, fmt.Sprintf("\t\t{%q, %q}: true,\n", strings.TrimPrefix(name, "_"), f))
				byName[f] = true
			}
		}
	}
	sort.Strings(byObject)
	names := make([]string, 0, len(byName))
	for f := range byName {
		names = append(names, fmt.Sprintf("\t\t%q: true,\n", f))
	}
	sort.Strings(names)

	for _, o := range objects {
		if o.concurrent {
			o.newGroup.Rhs[0] = &ast.CallExpr{
				Fun:    &ast.Ident{NamePos: o.newGroup.Rhs[0].Pos(), Name: "deferredGroup"},
				Args:   []ast.Expr{ast.NewIdent("ctx"), ast.NewIdent("fields")},
				Lparen: o.newGroup.Rhs[0].Pos(),
			}
			continue
		}
		drop := map[ast.Stmt]bool{o.newGroup: true, o.process: true}
		body := o.decl.Body.List[:0]
		for _, s := range o.decl.Body.List {
			if !drop[s] {
				body = append(body, s)
			}
		}
		o.decl.Body.List = body
	}
	if !astutil.UsesImport(file, "math") {
		astutil.DeleteImport(fset, file, "math")
	}

	var buf bytes.Buffer
	if err := format.Node(&buf, fset, file); err != nil {
		return nil, err
	}
	buf.WriteString("\n// concurrentlyResolved are the fields whose resolvers run concurrently:\n" +
		"// written by cmd/trimgen for marshalBySelection.\n" +
		"var concurrentlyResolved = concurrentFields{\n\tobjects: map[[2]string]bool{\n")
	for _, row := range byObject {
		buf.WriteString(row)
	}
	buf.WriteString("\t},\n\tnames: map[string]bool{\n")
	for _, row := range names {
		buf.WriteString(row)
	}
	buf.WriteString("\t},\n}\n")
	return format.Source(buf.Bytes())
}

// isContextMethod reports whether fn is a method of *executionContext.
func isContextMethod(fn *ast.FuncDecl) bool {
	if fn.Recv == nil || len(fn.Recv.List) != 1 {
		return false
	}
	star, ok := fn.Recv.List[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	id, ok := star.X.(*ast.Ident)
	return ok && id.Name == "executionContext"
}

// calledMethods returns the executionContext methods fn calls as ec.Name.
func calledMethods(fn *ast.FuncDecl) []string {
	set := map[string]bool{}
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && isIdent(sel.X, "ec") {
			set[sel.Sel.Name] = true
		}
		return true
	})
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// graphqlCall returns the name of the graphql package function call calls,
// or "".
func graphqlCall(n ast.Node) string {
	call, ok := n.(*ast.CallExpr)
	if !ok {
		return ""
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || !isIdent(sel.X, "graphql") {
		return ""
	}
	return sel.Sel.Name
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// checkOutside fails on any group or goroutine in a function that is not
// an object marshaller: trimgen would not know what it is for.
func checkOutside(fn *ast.FuncDecl, fail func(ast.Node, string, ...any)) {
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		if name := graphqlCall(n); name == "NewDeferredGroup" {
			fail(n, "graphql.NewDeferredGroup outside an object marshaller, in %s", fn.Name.Name)
		}
		if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "ProcessDeferredGroup" {
			fail(n, "ProcessDeferredGroup outside an object marshaller, in %s", fn.Name.Name)
		}
		return true
	})
}

// parseObject returns fn as an object marshaller, or nil if it builds no
// field set. It fails on any form of group or field set use it does not
// recognise.
func parseObject(fn *ast.FuncDecl, fail func(ast.Node, string, ...any)) *object {
	var fieldSet *ast.AssignStmt
	for _, s := range fn.Body.List {
		if a, ok := s.(*ast.AssignStmt); ok && len(a.Rhs) == 1 && graphqlCall(a.Rhs[0]) == "NewFieldSet" {
			fieldSet = a
		}
	}
	if fieldSet == nil {
		return nil
	}
	o := &object{decl: fn}
	name := fn.Name.Name
	if len(fieldSet.Lhs) != 1 || !isIdent(fieldSet.Lhs[0], "out") || fieldSet.Tok != token.DEFINE ||
		len(fieldSet.Rhs[0].(*ast.CallExpr).Args) != 1 || !isIdent(fieldSet.Rhs[0].(*ast.CallExpr).Args[0], "fields") {
		fail(fieldSet, "%s: a field set not made as out := graphql.NewFieldSet(fields)", name)
	}
	for _, s := range fn.Body.List {
		switch s := s.(type) {
		case *ast.AssignStmt:
			if len(s.Rhs) == 1 && graphqlCall(s.Rhs[0]) == "NewDeferredGroup" {
				if o.newGroup != nil || len(s.Lhs) != 1 || !isIdent(s.Lhs[0], "deferred") || s.Tok != token.DEFINE ||
					len(s.Rhs[0].(*ast.CallExpr).Args) != 1 || !isIdent(s.Rhs[0].(*ast.CallExpr).Args[0], "ctx") {
					fail(s, "%s: a group not made as deferred := graphql.NewDeferredGroup(ctx)", name)
				}
				o.newGroup = s
			}
		case *ast.IfStmt:
			if isProcessGroup(s) {
				o.process = s
			}
		}
	}
	if o.newGroup == nil || o.process == nil {
		fail(fn, "%s: an object marshaller without the expected deferred group and its processing", name)
		return nil
	}

	// Every other use of the group, the field set and goroutines.
	uses := 0
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.IfStmt:
			if n == o.process {
				return false
			}
		case *ast.AssignStmt:
			if n == o.newGroup {
				return false
			}
		case *ast.GoStmt:
			o.concurrent = true
		case *ast.CallExpr:
			if name := graphqlCall(n); name == "NewDeferredGroup" {
				fail(n, "%s: a second graphql.NewDeferredGroup", fn.Name.Name)
			}
		case *ast.SelectorExpr:
			if n.Sel.Name == "ProcessDeferredGroup" {
				fail(n, "%s: ProcessDeferredGroup outside the expected form", fn.Name.Name)
			}
			if isIdent(n.X, "out") {
				concurrent, known := fieldSetMembers[n.Sel.Name]
				if !known {
					fail(n, "%s: unknown field set member out.%s", fn.Name.Name, n.Sel.Name)
				}
				o.concurrent = o.concurrent || concurrent
			}
		case *ast.Ident:
			if n.Name == "deferred" {
				uses++
			}
		}
		return true
	})
	if uses > 0 && !o.concurrent {
		fail(fn, "%s: uses its deferred group without resolving a field concurrently", name)
	}
	// The fields resolved concurrently: the cases of the switch on
	// field.Name that call one of the field set's concurrent methods.
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		c, ok := n.(*ast.CaseClause)
		if !ok {
			return true
		}
		concurrent := false
		for _, s := range c.Body {
			ast.Inspect(s, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok && isIdent(sel.X, "out") && fieldSetMembers[sel.Sel.Name] {
					concurrent = true
				}
				return true
			})
		}
		if !concurrent {
			return true
		}
		for _, e := range c.List {
			lit, ok := e.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				fail(c, "%s: a field resolved concurrently under a case that is not a field name", name)
				continue
			}
			o.fields = append(o.fields, strings.Trim(lit.Value, `"`))
		}
		return true
	})
	return o
}

// isProcessGroup reports whether s is gqlgen's hand-over of a group:
//
//	if n := len(deferred.Defers); n > 0 {
//		atomic.AddInt32(&ec.Deferred, int32(min(n, math.MaxInt32)))
//		ec.ProcessDeferredGroup(deferred)
//	}
func isProcessGroup(s *ast.IfStmt) bool {
	init, ok := s.Init.(*ast.AssignStmt)
	if !ok || len(init.Rhs) != 1 {
		return false
	}
	lenCall, ok := init.Rhs[0].(*ast.CallExpr)
	if !ok || !isIdent(lenCall.Fun, "len") || len(lenCall.Args) != 1 {
		return false
	}
	defers, ok := lenCall.Args[0].(*ast.SelectorExpr)
	if !ok || !isIdent(defers.X, "deferred") || defers.Sel.Name != "Defers" || len(s.Body.List) != 2 || s.Else != nil {
		return false
	}
	last, ok := s.Body.List[1].(*ast.ExprStmt)
	if !ok {
		return false
	}
	call, ok := last.X.(*ast.CallExpr)
	if !ok || len(call.Args) != 1 || !isIdent(call.Args[0], "deferred") {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	return ok && isIdent(sel.X, "ec") && sel.Sel.Name == "ProcessDeferredGroup"
}

// parseLists returns fn's calls of graphql.MarshalSliceConcurrently, each
// in gqlgen's form:
//
//	graphql.MarshalSliceConcurrently(ctx, len(v), 0, false, func(ctx context.Context, i int) graphql.Marshaler {
//		...
//		return ec.marshalX(ctx, sel, v[i])
//	})
//
// It fails on any other form, and on any other graphql function that
// marshals a slice or works concurrently.
func parseLists(fn *ast.FuncDecl, fail func(ast.Node, string, ...any)) []list {
	var lists []list
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		name := graphqlCall(n)
		if name == "" {
			return true
		}
		if name != "MarshalSliceConcurrently" {
			if strings.Contains(name, "Slice") || strings.Contains(name, "Concurren") {
				fail(n, "%s: unknown list call graphql.%s", fn.Name.Name, name)
			}
			return true
		}
		call := n.(*ast.CallExpr)
		element, ok := listElement(call)
		if !ok {
			fail(n, "%s: graphql.MarshalSliceConcurrently not in the form trimgen knows", fn.Name.Name)
			return true
		}
		lists = append(lists, list{call: call, element: element})
		return true
	})
	return lists
}

func listElement(call *ast.CallExpr) (string, bool) {
	if len(call.Args) != 5 || !isIdent(call.Args[0], "ctx") {
		return "", false
	}
	if l, ok := call.Args[1].(*ast.CallExpr); !ok || !isIdent(l.Fun, "len") || len(l.Args) != 1 || !isIdent(l.Args[0], "v") {
		return "", false
	}
	if lit, ok := call.Args[2].(*ast.BasicLit); !ok || lit.Value != "0" {
		return "", false // a worker limit: sequential would differ in kind
	}
	if !isIdent(call.Args[3], "false") {
		return "", false // panics not recovered: marshalSequentially recovers
	}
	f, ok := call.Args[4].(*ast.FuncLit)
	if !ok || len(f.Body.List) == 0 || len(f.Type.Params.List) != 2 {
		return "", false
	}
	ret, ok := f.Body.List[len(f.Body.List)-1].(*ast.ReturnStmt)
	if !ok || len(ret.Results) != 1 {
		return "", false
	}
	c, ok := ret.Results[0].(*ast.CallExpr)
	if !ok || len(c.Args) != 3 || !isIdent(c.Args[0], "ctx") || !isIdent(c.Args[1], "sel") {
		return "", false
	}
	if idx, ok := c.Args[2].(*ast.IndexExpr); !ok || !isIdent(idx.X, "v") || !isIdent(idx.Index, "i") {
		return "", false
	}
	sel, ok := c.Fun.(*ast.SelectorExpr)
	if !ok || !isIdent(sel.X, "ec") {
		return "", false
	}
	return sel.Sel.Name, true
}

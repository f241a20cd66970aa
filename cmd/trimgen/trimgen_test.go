package main

import (
	"os"
	"strings"
	"testing"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTrim checks the rewrites on a file shaped as gqlgen writes
// graph/generated.go, against the output reviewed by hand.
func TestTrim(t *testing.T) {
	got, err := trim(readFixture(t, "input.go.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := readFixture(t, "want.go.txt"); string(got) != string(want) {
		t.Errorf("trim(input.go.txt) differs from want.go.txt:\n%s", got)
	}
	out := string(got)
	// The list of in-memory edges is sequential; the list of wrappers,
	// whose node has a resolved field, is concurrent when the query asks for
	// it, by the table of such fields.
	if !strings.Contains(out, "ret := marshalSequentially(ctx, len(v), func(ctx context.Context, i int) graphql.Marshaler {\n\t\tfc := graphql.GetFieldContext(ctx)\n\t\tfc.Result = &v[i]\n\t\treturn ec._Edge(") {
		t.Error("the list of edges is not marshalled sequentially")
	}
	if !strings.Contains(out, "ret := marshalBySelection(ctx, sel, &concurrentlyResolved, len(v), func(ctx context.Context, i int) graphql.Marshaler {\n\t\tfc := graphql.GetFieldContext(ctx)\n\t\tfc.Result = &v[i]\n\t\treturn ec._Wrapper(") {
		t.Error("the list of wrappers, which reach a concurrently resolved field, lost its concurrent form")
	}
	if !strings.Contains(out, "var concurrentlyResolved = concurrentFields{\n\tobjects: map[[2]string]bool{\n\t\t{\"Node\", \"children\"}: true,\n\t},\n\tnames: map[string]bool{\n\t\t\"children\": true,\n\t},\n}\n") {
		t.Error("the table of concurrently resolved fields is not Node.children alone")
	}
	if strings.Contains(out, "MarshalSliceConcurrently") {
		t.Error("a call of graphql.MarshalSliceConcurrently is left")
	}
	if n := strings.Count(out, "deferred := deferredGroup(ctx, fields)"); n != 1 {
		t.Errorf("%d groups made by deferredGroup, want 1 (Node's)", n)
	}
	if strings.Contains(out, "NewDeferredGroup") || strings.Count(out, "ec.ProcessDeferredGroup(deferred)") != 1 {
		t.Error("want no graphql.NewDeferredGroup and one ProcessDeferredGroup (Node's)")
	}

	// Trimming twice fails: the output no longer has gqlgen's groups.
	if _, err := trim(got); err == nil {
		t.Error("trimming trimmed output passed")
	}
}

// TestTrimFailsOnChangedOutput feeds trim gqlgen output in shapes it was not
// checked against: each must fail, so that `make generate` fails.
func TestTrimFailsOnChangedOutput(t *testing.T) {
	if _, err := trim(readFixture(t, "changed.go.txt")); err == nil {
		t.Error("changed.go.txt passed")
	} else {
		t.Log(err)
	}

	input := string(readFixture(t, "input.go.txt"))
	for name, change := range map[string][2]string{
		"worker limit":             {"MarshalSliceConcurrently(ctx, len(v), 0,", "MarshalSliceConcurrently(ctx, len(v), 8,"},
		"panics not recovered":     {"MarshalSliceConcurrently(ctx, len(v), 0, false,", "MarshalSliceConcurrently(ctx, len(v), 0, true,"},
		"another list call":        {"graphql.MarshalSliceConcurrently(", "graphql.MarshalSliceInParallel("},
		"element not by ec":        {"return ec._Edge(ctx, sel, v[i])", "return marshalEdge(ctx, sel, v[i])"},
		"group made otherwise":     {"deferred := graphql.NewDeferredGroup(ctx)\n\tfor i, field := range fields {\n\t\tswitch field.Name {\n\t\tcase \"cursor\"", "deferred := graphql.NewDeferredGroup(graphql.WithPath(ctx))\n\tfor i, field := range fields {\n\t\tswitch field.Name {\n\t\tcase \"cursor\""},
		"group processed elsewise": {"\t\tec.ProcessDeferredGroup(deferred)\n\t}\n\n\treturn out\n}\n\nfunc (ec *executionContext) _Edge_cursor", "\t\tec.processGroup(deferred)\n\t}\n\n\treturn out\n}\n\nfunc (ec *executionContext) _Edge_cursor"},
		"unknown field set use":    {"out.Dispatch(ctx)\n\tif out.Invalids > 0 {\n\t\treturn graphql.Null\n\t}\n\n\tif n := len(deferred.Defers); n > 0 {\n\t\tatomic.AddInt32(&ec.Deferred, int32(min(n, math.MaxInt32)))\n\t\tec.ProcessDeferredGroup(deferred)\n\t}\n\n\treturn out\n}\n\nfunc (ec *executionContext) _Edge_cursor", "out.DispatchDeferred(ctx)\n\tif out.Invalids > 0 {\n\t\treturn graphql.Null\n\t}\n\n\tif n := len(deferred.Defers); n > 0 {\n\t\tatomic.AddInt32(&ec.Deferred, int32(min(n, math.MaxInt32)))\n\t\tec.ProcessDeferredGroup(deferred)\n\t}\n\n\treturn out\n}\n\nfunc (ec *executionContext) _Edge_cursor"},
		"group outside an object":  {"func (ec *executionContext) marshalNNode(ctx context.Context, sel ast.SelectionSet, v *Node) graphql.Marshaler {\n", "func (ec *executionContext) marshalNNode(ctx context.Context, sel ast.SelectionSet, v *Node) graphql.Marshaler {\n\t_ = graphql.NewDeferredGroup(ctx)\n"},
		"no lists at all":          {"graphql.MarshalSliceConcurrently(ctx, len(v), 0, false, func", "marshalAnyhow(ctx, len(v), 0, false, func"},
	} {
		changed := strings.ReplaceAll(input, change[0], change[1])
		if changed == input {
			t.Fatalf("%s: the fixture has no %q", name, change[0])
		}
		if _, err := trim([]byte(changed)); err == nil {
			t.Errorf("%s: trim passed output it does not know", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

func TestCheckVersion(t *testing.T) {
	if err := checkVersion(checkedGQLGen); err != nil {
		t.Error(err)
	}
	for _, v := range []string{"v0.17.99", "v0.18.0", "v0.17.97", ""} {
		err := checkVersion(v)
		if err == nil || !strings.Contains(err.Error(), "cmd/trimgen") {
			t.Errorf("checkVersion(%q) = %v, want an error saying what to check", v, err)
		}
	}
}

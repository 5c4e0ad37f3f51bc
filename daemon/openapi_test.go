package daemon

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// openAPIPath is the API's OpenAPI document, in the repository (not in
// the binary).
const openAPIPath = "api/openapi.yaml"

// TestOpenAPIRoutes checks the OpenAPI document against the route table
// the daemon's server registers (server.routes): no route undocumented,
// none documented that the daemon does not serve.
func TestOpenAPIRoutes(t *testing.T) {
	doc, _ := readOpenAPI(t)
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for method := range item {
			m := strings.ToUpper(method)
			switch m {
			case "GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE":
				documented[m+" "+path] = true
			}
		}
	}
	served := map[string]bool{}
	for _, rt := range (&server{}).routes() {
		key := rt.method + " " + rt.pattern
		if served[key] {
			t.Errorf("route %s is in the route table twice", key)
		}
		served[key] = true
	}
	// Routes a listener registers besides the table (the TCP listener's
	// own) must be documented too.
	for key, where := range routesOutsideTable(t) {
		served[key] = true
		if !documented[key] {
			t.Logf("%s registers %s outside the route table (server.routes)", where, key)
		}
	}
	for key := range served {
		if !documented[key] {
			t.Errorf("route %s is served but not documented in daemon/%s", key, openAPIPath)
		}
	}
	for key := range documented {
		if !served[key] {
			t.Errorf("%s is documented in daemon/%s but the daemon does not serve it", key, openAPIPath)
		}
	}
	if len(served) == 0 {
		t.Fatal("no routes")
	}
}

// TestOpenAPIDocument checks what a tool reading the document relies on:
// an OpenAPI 3 version, every operation with an id, a 200 answer and its
// path parameters declared, and every $ref naming something that exists.
func TestOpenAPIDocument(t *testing.T) {
	doc, root := readOpenAPI(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi: %q, want 3.x", doc.OpenAPI)
	}
	ids := map[string]string{}
	for path, item := range doc.Paths {
		var common []param
		if raw, ok := item["parameters"]; ok {
			common = decodeParams(t, root, raw)
		}
		for method, raw := range item {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			var op struct {
				OperationID string         `yaml:"operationId"`
				Parameters  yaml.Node      `yaml:"parameters"`
				Responses   map[string]any `yaml:"responses"`
			}
			if err := raw.Decode(&op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			where := strings.ToUpper(method) + " " + path
			if op.OperationID == "" {
				t.Errorf("%s has no operationId", where)
			} else if other, dup := ids[op.OperationID]; dup {
				t.Errorf("%s and %s share operationId %s", where, other, op.OperationID)
			}
			ids[op.OperationID] = where
			if _, ok := op.Responses["200"]; !ok {
				t.Errorf("%s documents no 200 answer", where)
			}
			params := slices.Clone(common)
			if op.Parameters.Kind != 0 {
				params = append(params, decodeParams(t, root, op.Parameters)...)
			}
			for _, seg := range strings.Split(path, "/") {
				if !strings.HasPrefix(seg, "{") {
					continue
				}
				name := strings.Trim(seg, "{}")
				if !slices.ContainsFunc(params, func(p param) bool { return p.In == "path" && p.Name == name }) {
					t.Errorf("%s does not declare its path parameter %s", where, name)
				}
			}
		}
	}
	// Every $ref resolves.
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == "$ref" {
					if lookup(root, n.Content[i+1].Value) == nil {
						t.Errorf("line %d: $ref %s names nothing", n.Content[i+1].Line, n.Content[i+1].Value)
					}
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(root)
}

type openAPIDoc struct {
	OpenAPI string                          `yaml:"openapi"`
	Paths   map[string]map[string]yaml.Node `yaml:"paths"`
}

type param struct {
	Name string `yaml:"name"`
	In   string `yaml:"in"`
	Ref  string `yaml:"$ref"`
}

// readOpenAPI reads the OpenAPI document, parsed once: as an openAPIDoc
// and as the tree its references are looked up in.
func readOpenAPI(t *testing.T) (openAPIDoc, *yaml.Node) {
	t.Helper()
	data, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	var doc openAPIDoc
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatalf("parse daemon/%s: %v", openAPIPath, err)
	}
	if err := root.Decode(&doc); err != nil {
		t.Fatalf("parse daemon/%s: %v", openAPIPath, err)
	}
	if len(doc.Paths) == 0 {
		t.Fatalf("daemon/%s documents no paths", openAPIPath)
	}
	return doc, &root
}

// decodeParams reads a parameters list, following references to
// #/components/parameters in root.
func decodeParams(t *testing.T, root *yaml.Node, n yaml.Node) []param {
	t.Helper()
	var ps []param
	if err := n.Decode(&ps); err != nil {
		t.Fatal(err)
	}
	for i, p := range ps {
		if p.Ref == "" {
			continue
		}
		target := lookup(root, p.Ref)
		if target == nil {
			t.Fatalf("parameter $ref %s names nothing", p.Ref)
		}
		if err := target.Decode(&ps[i]); err != nil {
			t.Fatal(err)
		}
	}
	return ps
}

// lookup follows a local reference ("#/components/schemas/App") from the
// document's root node.
func lookup(root *yaml.Node, ref string) *yaml.Node {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for _, key := range strings.Split(rest, "/") {
		key = strings.ReplaceAll(strings.ReplaceAll(key, "~1", "/"), "~0", "~")
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
				break
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

// routesOutsideTable finds, in the daemon's source, the patterns given
// to a mux's Handle or HandleFunc other than the route table's (whose
// pattern is rt.pattern) and the catch-alls ("/", "/v1/": no method, a
// subtree): "GET /v1/apps/{target}/logs" → "tcp.go:103". A pattern made
// of string constants (of this package or api) is worked out; any other
// fails the test, for it could not be checked.
func routesOutsideTable(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	consts := map[string]ast.Expr{} // "Name" (daemon) or "api.Name"
	var files []*ast.File
	for _, dir := range []string{".", "api"} {
		names, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			prefix := ""
			if dir == "api" {
				prefix = "api."
			} else {
				files = append(files, f)
			}
			for _, d := range f.Decls {
				g, ok := d.(*ast.GenDecl)
				if !ok || g.Tok != token.CONST {
					continue
				}
				for _, spec := range g.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if i < len(vs.Values) {
							consts[prefix+n.Name] = vs.Values[i]
						}
					}
				}
			}
		}
	}
	var eval func(e ast.Expr, pkg string) (string, bool)
	eval = func(e ast.Expr, pkg string) (string, bool) {
		switch e := e.(type) {
		case *ast.BasicLit:
			if e.Kind == token.STRING {
				s, err := strconv.Unquote(e.Value)
				return s, err == nil
			}
		case *ast.ParenExpr:
			return eval(e.X, pkg)
		case *ast.BinaryExpr:
			if e.Op == token.ADD {
				a, ok1 := eval(e.X, pkg)
				b, ok2 := eval(e.Y, pkg)
				return a + b, ok1 && ok2
			}
		case *ast.Ident:
			if v, ok := consts[pkg+e.Name]; ok {
				return eval(v, pkg)
			}
		case *ast.SelectorExpr:
			if x, ok := e.X.(*ast.Ident); ok && x.Name == "api" {
				if v, ok := consts["api."+e.Sel.Name]; ok {
					return eval(v, "api.")
				}
			}
		}
		return "", false
	}
	out := map[string]string{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 2 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle") {
				return true
			}
			where := fset.Position(call.Pos())
			where.Filename = filepath.Base(where.Filename)
			at := where.Filename + ":" + strconv.Itoa(where.Line)
			if b, ok := call.Args[0].(*ast.BinaryExpr); ok {
				if y, ok := b.Y.(*ast.SelectorExpr); ok && y.Sel.Name == "pattern" {
					return true // the route table's loop
				}
			}
			pattern, ok := eval(call.Args[0], "")
			if !ok {
				t.Errorf("%s: a route whose pattern the test cannot work out: register it in server.routes()", at)
				return true
			}
			method, path, hasMethod := strings.Cut(pattern, " ")
			if !hasMethod {
				if strings.HasSuffix(pattern, "/") {
					return true // a catch-all: a subtree, any method
				}
				t.Errorf("%s: route %q has no method: give it one, in server.routes()", at, pattern)
				return true
			}
			out[method+" "+strings.TrimSpace(path)] = at
			return true
		})
	}
	return out
}

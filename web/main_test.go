package web_test

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

// specUnseen lists the documented (operation, status) pairs no test is
// asked to produce, each with the reason.
var specUnseen = map[string]string{
	// Served on purpose without the spec check (TestSpec_Served):
	// kin-openapi decodes the YAML body, which its {type: string}-less
	// schema cannot describe as what it is, the document's own bytes.
	"GET /openapi.yaml 200": "checked byte for byte by TestSpec_Served instead",
}

// TestMain runs the package's tests and then, when all of them ran (no
// -run, -skip or -short) and passed, fails if openapi.yaml documents an
// answer that no test produced through checkSpec: an answer documented
// but never seen is one the document may have wrong, as a schema limit on
// stored drafts once was. 500s are left out: every route documents one,
// and a test provokes only a few (TestInternalErrorTellsNothing).
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && wholeRun() {
		if missing := specCoverage(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "openapi.yaml documents answers that no test produced (add a test, or remove the answer if it cannot happen): %d\n  %s\n",
				len(missing), strings.Join(missing, "\n  "))
			code = 1
		}
	}
	os.Exit(code)
}

// wholeRun reports whether every test of the package was asked to run.
func wholeRun() bool {
	for _, name := range []string{"test.run", "test.skip", "test.list"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return false
		}
	}
	return !testing.Short()
}

// specCoverage lists the documented (operation, status) pairs that
// checkSpec never validated, except the 500s and specUnseen.
func specCoverage() []string {
	if specDoc == nil {
		return []string{"(openapi.yaml was never loaded)"}
	}
	var missing []string
	specSeen.mu.Lock()
	defer specSeen.mu.Unlock()
	for path, item := range specDoc.Paths.Map() {
		for method, op := range item.Operations() {
			for status := range op.Responses.Map() {
				pair := specPair(method, path, status)
				if status == "500" || specUnseen[pair] != "" || specSeen.m[pair] {
					continue
				}
				missing = append(missing, pair)
			}
		}
	}
	sort.Strings(missing)
	return missing
}

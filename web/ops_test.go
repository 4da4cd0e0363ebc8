package web_test

import (
	"strings"
	"testing"
)

// TestOps_ReadyzWhenTheStoreIsDown: /readyz answers 503 once the store no
// longer answers (here, a closed database), and 200 before.
func TestOps_ReadyzWhenTheStoreIsDown(t *testing.T) {
	e := newEnv(t)
	if r := e.do("GET", "/readyz", "", nil); r.Code != 200 || r.m(t)["status"] != "ready" {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/readyz", "", nil); r.Code != 503 || r.m(t)["status"] != "unavailable" {
		t.Fatalf("store closed: %d %s", r.Code, r.Body)
	}
}

// TestAudit_RefusesABadPage: the audit log's paging parameters are
// checked like every list's, naming the parameter.
func TestAudit_RefusesABadPage(t *testing.T) {
	e := newEnv(t)
	for _, q := range []string{"limit=0", "limit=201", "offset=-1", "offset=x"} {
		r := e.do("GET", "/v1/audit?"+q, adminToken, nil)
		name, _, _ := strings.Cut(q, "=")
		if r.Code != 400 || details(t, r)["/"+name] != "invalid_parameter" {
			t.Fatalf("%s: %d %s", q, r.Code, r.Body)
		}
	}
	if r := e.do("GET", "/v1/audit?limit=200&offset=0", adminToken, nil); r.Code != 200 {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
}

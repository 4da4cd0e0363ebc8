package web_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"testing"

	"github.com/flowbot/flowbot"
	"github.com/flowbot/flowbot/web"
	"github.com/getkin/kin-openapi/openapi3"
)

// echoParam matches an echo path parameter (":id").
var echoParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// specPath turns an echo route path into an OpenAPI path template.
func specPath(p string) string { return echoParam.ReplaceAllString(p, "{$1}") }

// TestSpec_RoutesMatchOpenAPI holds the router and openapi.yaml to each other:
// every route is documented, every documented operation is served, and each
// operation's security says what the route's access needs.
func TestSpec_RoutesMatchOpenAPI(t *testing.T) {
	e := newEnv(t)
	doc, _ := spec(t)
	routes := e.srv.Routes()
	if len(routes) < 20 {
		t.Fatalf("only %d routes registered", len(routes))
	}

	served := map[string]web.Route{}
	t.Run("OKEveryRouteDocumented", func(t *testing.T) {
		for _, r := range routes {
			path := specPath(r.Path)
			served[r.Method+" "+path] = r
			item := doc.Paths.Find(path)
			if item == nil {
				t.Errorf("%s %s is served but its path is not in openapi.yaml", r.Method, path)
				continue
			}
			if item.GetOperation(r.Method) == nil {
				t.Errorf("%s %s is served but openapi.yaml does not document the %s operation", r.Method, path, r.Method)
			}
		}
	})

	t.Run("OKEveryOperationServed", func(t *testing.T) {
		for path, item := range doc.Paths.Map() {
			for method := range item.Operations() {
				if _, ok := served[method+" "+path]; !ok {
					t.Errorf("openapi.yaml documents %s %s but no route serves it", method, path)
				}
			}
		}
	})

	t.Run("OKSecurityMatchesAccess", func(t *testing.T) {
		keys := make([]string, 0, len(served))
		for k := range served {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			r := served[k]
			path := specPath(r.Path)
			item := doc.Paths.Find(path)
			if item == nil || item.GetOperation(r.Method) == nil {
				continue // reported above
			}
			op := item.GetOperation(r.Method)
			reqs := doc.Security
			if op.Security != nil {
				reqs = *op.Security
			}
			if r.Access == web.Public {
				if op.Security == nil || len(*op.Security) != 0 {
					t.Errorf("%s is public but openapi.yaml does not say security: []", k)
				}
				for _, code := range []string{"401", "403"} {
					if op.Responses.Value(code) != nil {
						t.Errorf("%s is public but documents a %s response", k, code)
					}
				}
				continue
			}
			if !needsBearer(reqs) {
				t.Errorf("%s needs a token (access %d) but openapi.yaml does not require the bearer scheme", k, r.Access)
			}
			for _, code := range []string{"401", "403"} {
				if op.Responses.Value(code) == nil {
					t.Errorf("%s needs a token but does not document a %s response", k, code)
				}
			}
		}
	})
}

// needsBearer reports whether every alternative of reqs asks for the bearer
// scheme, so no alternative lets a caller in without a token.
func needsBearer(reqs openapi3.SecurityRequirements) bool {
	if len(reqs) == 0 {
		return false
	}
	for _, req := range reqs {
		if _, ok := req["bearer"]; !ok {
			return false
		}
	}
	return true
}

// TestSpec_Served: the server hands out the very document the tests check.
// Sent without e.do: kin-openapi decodes an application/yaml body into an
// object, which the documented {type: string} schema then refuses.
func TestSpec_Served(t *testing.T) {
	e := newEnv(t)
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.yaml", nil))
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), flowbot.OpenAPI) {
		t.Fatalf("%d %s", rec.Code, truncate(rec.Body.Bytes()))
	}
}

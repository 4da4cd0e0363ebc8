package web_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowbot/flowbot/web"
)

// connBody is a valid connection request; change fields to break it.
func connBody(name, typ string, creds map[string]any) map[string]any {
	return map[string]any{"name": name, "type": typ, "allowed_domain": "shop.example.com", "allow_subdomains": false, "credentials": creds}
}

// mustConnection creates a connection as the bootstrap admin.
func (e *env) mustConnection(body any) map[string]any {
	e.t.Helper()
	r := e.do("POST", "/v1/connections", adminToken, body)
	if r.Code != 201 {
		e.t.Fatalf("create connection: %d %s", r.Code, r.Body)
	}
	return r.m(e.t)
}

// botUsing is validFlow with its api_call step using connection conn.
func botUsing(conn string) string {
	return strings.Replace(validFlow, `"on_success":"tell"`, `"connection":"`+conn+`","on_success":"tell"`, 1)
}

func TestConnections_CreateEachTypeShowsNoSecret(t *testing.T) {
	e := newEnv(t)
	designer := e.designerToken()
	for _, tc := range []struct {
		name, typ string
		creds     map[string]any
		shown     map[string]any
	}{
		{"api_key", "api_key", map[string]any{"header": "X-Shop-Key", "value": "sk-live-1"},
			map[string]any{"header": "X-Shop-Key", "value": "*****"}},
		{"bearer", "bearer", map[string]any{"token": "tok-live-1"},
			map[string]any{"token": "*****"}},
		{"basic", "basic", map[string]any{"username": "bob", "password": "pw-live-1"},
			map[string]any{"username": "bob", "password": "*****"}},
		{"oauth2_client_credentials", "oauth2_client_credentials",
			map[string]any{"token_url": "https://auth.example.com/oauth/token", "client_id": "my-client", "client_secret": "cs-live-1", "scopes": []string{"read", "write"}},
			map[string]any{"token_url": "https://auth.example.com/oauth/token", "client_id": "my-client", "client_secret": "*****", "scopes": []any{"read", "write"}}},
	} {
		t.Run("OK"+tc.name, func(t *testing.T) {
			e := e.with(t)
			name := "c_" + tc.name[:5]
			r := e.do("POST", "/v1/connections", adminToken, connBody(name, tc.typ, tc.creds))
			if r.Code != 201 || r.Header.Get("Location") != "/v1/connections/"+name {
				t.Fatalf("create: %d %s (Location %q)", r.Code, r.Body, r.Header.Get("Location"))
			}
			created := r.m(t)
			if !reflect.DeepEqual(created["credentials"], tc.shown) {
				t.Fatalf("create shows credentials %v, want %v", created["credentials"], tc.shown)
			}
			if created["name"] != name || created["type"] != tc.typ || created["allowed_domain"] != "shop.example.com" || created["created_by"] != "bootstrap" {
				t.Fatalf("created: %s", r.Body)
			}
			r = e.do("GET", "/v1/connections/"+name, designer, nil)
			if r.Code != 200 || !reflect.DeepEqual(r.m(t), created) {
				t.Fatalf("designer get: %d %s, want %v", r.Code, r.Body, created)
			}
			secret := tc.creds[map[string]string{"api_key": "value", "bearer": "token", "basic": "password", "oauth2_client_credentials": "client_secret"}[tc.typ]].(string)
			if strings.Contains(string(r.Body), secret) {
				t.Fatalf("secret shown: %s", r.Body)
			}
			// The secret was kept, sealed, for the calls that need it.
			creds, _, err := e.conns.Credentials(context.Background(), name)
			if err != nil || !strings.Contains(creds.Value+creds.Token+creds.Password+creds.ClientSecret, secret) {
				t.Fatalf("stored credentials: %v", err)
			}
		})
	}
	t.Run("OKDesignerList", func(t *testing.T) {
		e := e.with(t)
		r := e.do("GET", "/v1/connections", designer, nil)
		var list struct {
			Items []map[string]any `json:"items"`
		}
		r.json(t, &list)
		if r.Code != 200 || len(list.Items) != 4 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		for _, it := range list.Items {
			for k, v := range it["credentials"].(map[string]any) {
				secretField := k == "value" || k == "token" || k == "password" || k == "client_secret"
				if secretField != (v == "*****") {
					t.Errorf("%s: credentials.%s = %v", it["name"], k, v)
				}
			}
		}
		for _, s := range []string{"sk-live-1", "tok-live-1", "pw-live-1", "cs-live-1"} {
			if strings.Contains(string(r.Body), s) {
				t.Fatalf("list shows %s: %s", s, r.Body)
			}
		}
	})
}

func TestConnections_CreateRules(t *testing.T) {
	e := newEnv(t)
	bearer := map[string]any{"token": "t"}
	with := func(k string, v any) map[string]any {
		b := connBody("shop_api", "bearer", bearer)
		b[k] = v
		return b
	}
	for _, tc := range []struct {
		name    string
		body    any
		code    int
		pointer string
		errCode string // of the detail at pointer
	}{
		{"OKName3", with("name", "abc"), 201, "", ""},
		{"OKName64", with("name", strings.Repeat("a", 64)), 201, "", ""},
		{"OKNameDigitsUnderscore", with("name", "shop_api_2"), 201, "", ""},
		{"OKReadOnlyFieldsIgnored", func() map[string]any {
			b := with("name", "read_only")
			b["id"], b["created_at"], b["created_by"] = "mine", "2020-01-01T00:00:00Z", "me"
			return b
		}(), 201, "", ""},
		{"ErrNameTooShort", with("name", "ab"), 422, "/name", "invalid_name"},
		{"ErrNameTooLong", with("name", strings.Repeat("a", 65)), 422, "/name", "invalid_name"},
		{"ErrNameUpperAndDash", with("name", "Bad-Name"), 422, "/name", "invalid_name"},
		{"ErrNameSpace", with("name", "shop api"), 422, "/name", "invalid_name"},
		{"ErrNameMissing", with("name", ""), 422, "/name", "required"},
		{"ErrTypeUnknown", with("type", "digest"), 422, "/type", "invalid_type"},
		{"ErrDomainScheme", with("allowed_domain", "https://shop.example.com"), 422, "/allowed_domain", "invalid_domain"},
		{"ErrDomainPort", with("allowed_domain", "shop.example.com:443"), 422, "/allowed_domain", "invalid_domain"},
		{"ErrDomainPath", with("allowed_domain", "shop.example.com/api"), 422, "/allowed_domain", "invalid_domain"},
		{"ErrDomainUserInfo", with("allowed_domain", "bob@shop.example.com"), 422, "/allowed_domain", "invalid_domain"},
		{"ErrDomainMissing", with("allowed_domain", ""), 422, "/allowed_domain", "required"},
		{"ErrSubdomainsOfTLD", func() map[string]any { b := with("allowed_domain", "com"); b["allow_subdomains"] = true; return b }(), 422, "/allow_subdomains", "domain_too_broad"},
		{"ErrSecretMissing", with("credentials", map[string]any{}), 422, "/credentials/token", "required"},
		{"ErrFieldOfOtherType", with("credentials", map[string]any{"token": "t", "password": "p"}), 422, "/credentials/password", "field_not_allowed"},
		{"ErrSecretWithNewline", with("credentials", map[string]any{"token": "t\r\nX-Evil: 1"}), 422, "/credentials/token", "invalid_characters"},
		{"ErrForbiddenHeader", func() map[string]any {
			return connBody("shop_api", "api_key", map[string]any{"header": "Host", "value": "v"})
		}(), 422, "/credentials/header", "forbidden_header"},
		{"ErrTokenURLNotHTTPS", func() map[string]any {
			return connBody("shop_api", "oauth2_client_credentials", map[string]any{"token_url": "http://auth.example.com/t", "client_id": "i", "client_secret": "s"})
		}(), 422, "/credentials/token_url", "invalid_url"},
		{"ErrUnknownField", with("allowed_domians", "x"), 400, "/allowed_domians", "unknown_field"},
		{"ErrUnknownCredentialField", with("credentials", map[string]any{"tokn": "t"}), 400, "/credentials/tokn", "unknown_field"},
		{"ErrWrongType", with("allow_subdomains", "yes"), 400, "/allow_subdomains", "wrong_type"},
		{"ErrMalformed", `{"name":`, 400, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do("POST", "/v1/connections", adminToken, tc.body)
			if r.Code != tc.code {
				t.Fatalf("got %d, want %d: %s", r.Code, tc.code, r.Body)
			}
			if tc.code == 201 {
				if m := r.m(t); m["id"] == "mine" || m["created_by"] != "bootstrap" {
					t.Fatalf("read-only fields taken from the request: %s", r.Body)
				}
				return
			}
			if tc.pointer == "" {
				return
			}
			if got := details(t, r)[tc.pointer]; got != tc.errCode {
				t.Fatalf("detail at %s = %q, want %q: %s", tc.pointer, got, tc.errCode, r.Body)
			}
			if r.Code == 400 && !strings.Contains(r.m(t)["error"].(map[string]any)["message"].(string), tc.pointer) {
				t.Fatalf("message does not name %s: %s", tc.pointer, r.Body)
			}
		})
	}
	t.Run("ErrDuplicateName", func(t *testing.T) {
		e := e.with(t)
		e.mustConnection(connBody("dup_api", "bearer", bearer))
		r := e.do("POST", "/v1/connections", adminToken, connBody("dup_api", "basic", map[string]any{"username": "u", "password": "p"}))
		if r.Code != 409 || r.errCode(t) != "conflict" || !strings.Contains(string(r.Body), "dup_api") {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		// The first one is unchanged.
		if r := e.do("GET", "/v1/connections/dup_api", adminToken, nil); r.m(t)["type"] != "bearer" {
			t.Fatalf("the duplicate changed the connection: %s", r.Body)
		}
	})
	t.Run("OKDomainCanonical", func(t *testing.T) {
		e := e.with(t)
		m := e.mustConnection(func() map[string]any {
			b := with("name", "canon_api")
			b["allowed_domain"] = "Shop.Example.COM."
			return b
		}())
		if m["allowed_domain"] != "shop.example.com" {
			t.Fatalf("allowed_domain %v", m["allowed_domain"])
		}
	})
}

func TestConnections_DesignersCannotChangeThem(t *testing.T) {
	e := newEnv(t)
	designer := e.designerToken()
	e.mustConnection(connBody("shop_api", "bearer", map[string]any{"token": "t1"}))
	for _, tc := range []struct {
		name, method, path string
		body               any
	}{
		{"ErrCreate", "POST", "/v1/connections", connBody("other_api", "bearer", map[string]any{"token": "t"})},
		{"ErrRotate", "PATCH", "/v1/connections/shop_api", map[string]any{"credentials": map[string]any{"token": "t2"}}},
		{"ErrDelete", "DELETE", "/v1/connections/shop_api", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do(tc.method, tc.path, designer, tc.body)
			if r.Code != 403 || r.errCode(t) != "forbidden" {
				t.Fatalf("%d %s", r.Code, r.Body)
			}
		})
	}
	// Nothing changed.
	if creds, _, err := e.conns.Credentials(context.Background(), "shop_api"); err != nil || creds.Token != "t1" {
		t.Fatalf("credentials changed: %v", err)
	}
	if r := e.do("GET", "/v1/connections/other_api", adminToken, nil); r.Code != 404 {
		t.Fatalf("designer created a connection: %d", r.Code)
	}
}

func TestConnections_Rotate(t *testing.T) {
	e := newEnv(t)
	before := e.mustConnection(connBody("shop_api", "basic", map[string]any{"username": "bob", "password": "old-pw"}))
	path := "/v1/connections/shop_api"

	t.Run("OK", func(t *testing.T) {
		e := e.with(t)
		r := e.do("PATCH", path, adminToken, map[string]any{"credentials": map[string]any{"username": "ann", "password": "new-pw"}})
		if r.Code != 200 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		m := r.m(t)
		if m["id"] != before["id"] || m["created_at"] != before["created_at"] ||
			!reflect.DeepEqual(m["credentials"], map[string]any{"username": "ann", "password": "*****"}) {
			t.Fatalf("rotated: %s", r.Body)
		}
		if strings.Contains(string(r.Body), "new-pw") {
			t.Fatalf("secret shown: %s", r.Body)
		}
		creds, _, err := e.conns.Credentials(context.Background(), "shop_api")
		if err != nil || creds.Username != "ann" || creds.Password != "new-pw" {
			t.Fatalf("stored: %v %v", creds.Username, err)
		}
	})
	t.Run("OKSendBackWholeView", func(t *testing.T) {
		e := e.with(t)
		view := e.do("GET", path, adminToken, nil).m(t)
		view["credentials"] = map[string]any{"username": "ann", "password": "newer-pw"}
		view["allowed_domain"] = "SHOP.example.com." // the same domain, written differently
		r := e.do("PATCH", path, adminToken, view)
		if r.Code != 200 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		if creds, _, _ := e.conns.Credentials(context.Background(), "shop_api"); creds.Password != "newer-pw" {
			t.Fatal("not rotated")
		}
	})
	for _, tc := range []struct {
		name    string
		body    map[string]any
		code    int
		pointer string
		errCode string
	}{
		{"ErrChangeName", map[string]any{"name": "shop_api_2", "credentials": map[string]any{"username": "u", "password": "p"}}, 422, "/name", "immutable_field"},
		{"ErrChangeType", map[string]any{"type": "bearer", "credentials": map[string]any{"token": "t"}}, 422, "/type", "immutable_field"},
		{"ErrChangeDomain", map[string]any{"allowed_domain": "evil.example.com", "credentials": map[string]any{"username": "u", "password": "p"}}, 422, "/allowed_domain", "immutable_field"},
		{"ErrChangeSubdomains", map[string]any{"allow_subdomains": true, "credentials": map[string]any{"username": "u", "password": "p"}}, 422, "/allow_subdomains", "immutable_field"},
		{"ErrNoCredentials", map[string]any{}, 422, "/credentials", "required"},
		{"ErrCredentialsOfOtherType", map[string]any{"credentials": map[string]any{"token": "t"}}, 422, "/credentials/token", "field_not_allowed"},
		{"ErrPasswordMissing", map[string]any{"credentials": map[string]any{"username": "u"}}, 422, "/credentials/password", "required"},
		{"ErrUnknownField", map[string]any{"credentials": map[string]any{"username": "u", "password": "p"}, "domain": "x"}, 400, "/domain", "unknown_field"},
		{"ErrUnknownCredentialField", map[string]any{"credentials": map[string]any{"username": "u", "passwd": "p"}}, 400, "/credentials/passwd", "unknown_field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do("PATCH", path, adminToken, tc.body)
			if r.Code != tc.code {
				t.Fatalf("got %d, want %d: %s", r.Code, tc.code, r.Body)
			}
			if got := details(t, r)[tc.pointer]; got != tc.errCode {
				t.Fatalf("detail at %s = %q, want %q: %s", tc.pointer, got, tc.errCode, r.Body)
			}
			// Nothing stored was lost.
			creds, c, err := e.conns.Credentials(context.Background(), "shop_api")
			if err != nil || creds.Password != "newer-pw" || c.Type != "basic" || c.AllowedDomain != "shop.example.com" || c.AllowSubdomains {
				t.Fatalf("refused rotation changed the connection: %+v %v", c, err)
			}
		})
	}
	t.Run("ErrNotFound", func(t *testing.T) {
		e := e.with(t)
		r := e.do("PATCH", "/v1/connections/nope_api", adminToken, map[string]any{"credentials": map[string]any{"token": "t"}})
		if r.Code != 404 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	})
}

// TestConnections_PatchIfMatch: a connection's ETag is its updated_at,
// quoted; a PATCH that sends it in If-Match is refused with 409 once new
// credentials have replaced the version it was read from, so an expiry
// date meant for the old credentials never lands on the new ones. Without
// If-Match a PATCH applies to what is stored, as before.
func TestConnections_PatchIfMatch(t *testing.T) {
	e := newEnv(t)
	path := "/v1/connections/shop_api"
	created := e.do("POST", "/v1/connections", adminToken, connBody("shop_api", "bearer", map[string]any{"token": "old"}))
	if created.Code != 201 || created.Header.Get("ETag") != `"`+created.m(t)["updated_at"].(string)+`"` {
		t.Fatalf("create: %d ETag %q %s", created.Code, created.Header.Get("ETag"), created.Body)
	}
	read := e.do("GET", path, adminToken, nil)
	etag := read.Header.Get("ETag")
	if read.Code != 200 || etag != created.Header.Get("ETag") {
		t.Fatalf("read: %d ETag %q, want the one created", read.Code, etag)
	}
	list := e.do("GET", "/v1/connections", adminToken, nil).m(t)["items"].([]any)
	if item := list[0].(map[string]any); `"`+item["updated_at"].(string)+`"` != etag {
		t.Fatalf("a list item's updated_at %v is not the ETag %s", item["updated_at"], etag)
	}
	expiry := time.Now().Add(60 * 24 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	expiryOnly := map[string]any{"expires_at": expiry}

	// Another admin rotates the credentials meanwhile, from a fresh read.
	rotated := e.do("PATCH", path, adminToken, map[string]any{"credentials": map[string]any{"token": "new"}}, "If-Match", etag)
	newTag := rotated.Header.Get("ETag")
	if rotated.Code != 200 || newTag == "" || newTag == etag || newTag != `"`+rotated.m(t)["updated_at"].(string)+`"` {
		t.Fatalf("rotate: %d ETag %q (was %q) %s", rotated.Code, newTag, etag, rotated.Body)
	}

	t.Run("ErrStale", func(t *testing.T) {
		e := e.with(t)
		r := e.do("PATCH", path, adminToken, expiryOnly, "If-Match", etag)
		if r.Code != 409 || r.errCode(t) != "conflict" || !strings.Contains(string(r.Body), "If-Match") || details(t, r)["/If-Match"] != "stale_version" {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		creds, c, err := e.conns.Credentials(context.Background(), "shop_api")
		if err != nil || creds.Token != "new" || c.ExpiresAt != nil {
			t.Fatalf("the stale PATCH changed the connection: %+v %v", c, err)
		}
	})
	for _, bad := range []string{"yesterday", `W/` + etag, etag + ", " + newTag} {
		t.Run("ErrMalformed", func(t *testing.T) {
			e := e.with(t)
			r := e.do("PATCH", path, adminToken, expiryOnly, "If-Match", bad)
			if r.Code != 400 || details(t, r)["/If-Match"] != "invalid_parameter" {
				t.Fatalf("If-Match %s: %d %s", bad, r.Code, r.Body)
			}
		})
	}
	t.Run("OKFresh", func(t *testing.T) {
		e := e.with(t)
		r := e.do("PATCH", path, adminToken, expiryOnly, "If-Match", newTag)
		if r.Code != 200 || r.m(t)["expires_at"] != expiry {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		// A new date alone is no new version: the tag stays.
		if r.Header.Get("ETag") != newTag {
			t.Fatalf("ETag %q after a new date, want %q", r.Header.Get("ETag"), newTag)
		}
	})
	t.Run("OKAbsent", func(t *testing.T) {
		e := e.with(t)
		if r := e.do("PATCH", path, adminToken, map[string]any{"expires_at": nil}); r.Code != 200 || r.m(t)["expires_at"] != nil {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	})
	t.Run("OKAny", func(t *testing.T) {
		e := e.with(t)
		if r := e.do("PATCH", path, adminToken, expiryOnly, "If-Match", "*"); r.Code != 200 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	})
}

func TestConnections_Delete(t *testing.T) {
	e := newEnv(t)
	e.mustConnection(connBody("shop_api", "bearer", map[string]any{"token": "t"}))
	path := "/v1/connections/shop_api"

	bot := e.publishedBot(botUsing("shop_api"))
	r := e.do("GET", "/v1/bots/"+bot, adminToken, nil)
	botName := r.m(t)["name"].(string)

	t.Run("ErrUsedByPublishedBot", func(t *testing.T) {
		e := e.with(t)
		r := e.do("DELETE", path, adminToken, nil)
		if r.Code != 409 || r.errCode(t) != "conflict" || !strings.Contains(string(r.Body), botName) {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		if r := e.do("GET", path, adminToken, nil); r.Code != 200 {
			t.Fatalf("the refused delete removed it: %d", r.Code)
		}
	})
	t.Run("ErrStillUsedWhileOnlyTheDraftDropsIt", func(t *testing.T) {
		e := e.with(t)
		if r := e.do("PUT", "/v1/bots/"+bot+"/flow", adminToken, validFlow, "If-Match", "1"); r.Code != 200 {
			t.Fatalf("save: %d %s", r.Code, r.Body)
		}
		if r := e.do("DELETE", path, adminToken, nil); r.Code != 409 {
			t.Fatalf("the published version still uses it: %d %s", r.Code, r.Body)
		}
	})
	t.Run("OKAfterPublishingWithoutIt", func(t *testing.T) {
		e := e.with(t)
		if r := e.do("POST", "/v1/bots/"+bot+"/publish", adminToken, nil); r.Code != 201 {
			t.Fatalf("publish: %d %s", r.Code, r.Body)
		}
		if r := e.do("DELETE", path, adminToken, nil); r.Code != 204 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	})
	t.Run("ErrNotFoundAfterDelete", func(t *testing.T) {
		e := e.with(t)
		if r := e.do("GET", path, adminToken, nil); r.Code != 404 || r.errCode(t) != "not_found" {
			t.Fatalf("get: %d %s", r.Code, r.Body)
		}
		if r := e.do("DELETE", path, adminToken, nil); r.Code != 404 {
			t.Fatalf("second delete: %d %s", r.Code, r.Body)
		}
		if r := e.do("PATCH", path, adminToken, map[string]any{"credentials": map[string]any{"token": "t"}}); r.Code != 404 {
			t.Fatalf("rotate: %d %s", r.Code, r.Body)
		}
	})
	t.Run("OKUsedOnlyByADraft", func(t *testing.T) {
		e := e.with(t)
		e.mustConnection(connBody("draft_api", "bearer", map[string]any{"token": "t"}))
		id, _ := e.createBot(botUsing("draft_api"))
		if r := e.do("DELETE", "/v1/connections/draft_api", adminToken, nil); r.Code != 204 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		// The draft now names a missing connection.
		r := e.do("POST", "/v1/bots/"+id+"/validate", adminToken, nil)
		if !hasProblem(r.m(t)["problems"].([]any), "/steps/1/connection", "unknown_connection") {
			t.Fatalf("validate: %s", r.Body)
		}
	})
	t.Run("OKAfterTheBotIsDeleted", func(t *testing.T) {
		e := e.with(t)
		e.mustConnection(connBody("gone_api", "bearer", map[string]any{"token": "t"}))
		id := e.publishedBot(botUsing("gone_api"))
		r := e.do("DELETE", "/v1/connections/gone_api", adminToken, nil)
		var body web.ErrorBody
		r.json(t, &body)
		if r.Code != 409 || !strings.Contains(body.Error.Message, "(id "+id+")") || len(body.Error.Details) != 1 ||
			body.Error.Details[0].Pointer != "/bots/"+id || body.Error.Details[0].Code != "connection_in_use" {
			t.Fatalf("in use: %d %s; want 409 naming the bot by id", r.Code, r.Body)
		}
		if r := e.do("DELETE", "/v1/bots/"+id, adminToken, nil); r.Code != 204 {
			t.Fatalf("delete bot: %d", r.Code)
		}
		if r := e.do("DELETE", "/v1/connections/gone_api", adminToken, nil); r.Code != 204 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	})
}

func TestConnections_DraftWithMissingConnection(t *testing.T) {
	e := newEnv(t)
	id, _ := e.createBot(botUsing("missing_api"))
	r := e.do("GET", "/v1/bots/"+id, adminToken, nil)
	if !hasProblem(r.m(t)["problems"].([]any), "/steps/1/connection", "unknown_connection") {
		t.Fatalf("draft problems: %s", r.Body)
	}
	r = e.do("POST", "/v1/bots/"+id+"/validate", adminToken, nil)
	if r.Code != 200 || !hasProblem(r.m(t)["problems"].([]any), "/steps/1/connection", "unknown_connection") {
		t.Fatalf("validate: %d %s", r.Code, r.Body)
	}
	r = e.do("POST", "/v1/bots/"+id+"/publish", adminToken, nil)
	if r.Code != 422 || details(t, r)["/steps/1/connection"] != "unknown_connection" {
		t.Fatalf("publish: %d %s", r.Code, r.Body)
	}
	// Once an admin makes it, the same draft publishes.
	e.mustConnection(connBody("missing_api", "bearer", map[string]any{"token": "t"}))
	if r := e.do("POST", "/v1/bots/"+id+"/publish", adminToken, nil); r.Code != 201 {
		t.Fatalf("publish: %d %s", r.Code, r.Body)
	}
	t.Run("ErrHostOutsideAllowedDomain", func(t *testing.T) {
		e := e.with(t)
		b := connBody("other_api", "bearer", map[string]any{"token": "t"})
		b["allowed_domain"] = "other.example.com"
		e.mustConnection(b)
		id, _ := e.createBot(botUsing("other_api"))
		r := e.do("POST", "/v1/bots/"+id+"/validate", adminToken, nil)
		if !hasProblem(r.m(t)["problems"].([]any), "/steps/1/url", "connection_host_not_allowed") {
			t.Fatalf("validate: %s", r.Body)
		}
	})
}

func TestConnections_Audit(t *testing.T) {
	e := newEnv(t)
	_, key := e.createKey(map[string]any{"name": "ops", "role": "admin"})
	r := e.do("POST", "/v1/connections", key, connBody("shop_api", "bearer", map[string]any{"token": "audit-secret-1"}))
	if r.Code != 201 {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	if r := e.do("PATCH", "/v1/connections/shop_api", adminToken, map[string]any{"credentials": map[string]any{"token": "audit-secret-2"}}); r.Code != 200 {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	// Refused actions leave no event.
	e.do("POST", "/v1/connections", adminToken, connBody("shop_api", "bearer", map[string]any{"token": "audit-secret-3"}))
	e.do("PATCH", "/v1/connections/shop_api", adminToken, map[string]any{"type": "basic", "credentials": map[string]any{"token": "audit-secret-4"}})
	e.do("POST", "/v1/connections", e.designerToken(), connBody("x_api", "bearer", map[string]any{"token": "audit-secret-5"}))
	if r := e.do("DELETE", "/v1/connections/shop_api", adminToken, nil); r.Code != 204 {
		t.Fatalf("%d %s", r.Code, r.Body)
	}

	events, raw := e.auditLog()
	var conn []auditEvent
	for _, ev := range events {
		if strings.HasPrefix(ev.Action, "connection.") {
			conn = append(conn, ev)
		}
	}
	// Newest first.
	if len(conn) != 3 || conn[0].Action != "connection.deleted" || conn[1].Action != "connection.rotated" || conn[2].Action != "connection.created" {
		t.Fatalf("connection events: %s", raw)
	}
	for _, ev := range conn {
		if ev.Target != "shop_api" {
			t.Errorf("%s target %q", ev.Action, ev.Target)
		}
	}
	if c := conn[2]; !strings.Contains(c.Actor, "ops") || c.Detail["type"] != "bearer" || c.Detail["allowed_domain"] != "shop.example.com" {
		t.Errorf("created: %+v", c)
	}
	if conn[1].Actor != "bootstrap" || conn[0].Actor != "bootstrap" {
		t.Errorf("actors: %q %q", conn[1].Actor, conn[0].Actor)
	}
	if strings.Contains(string(raw), "audit-secret") {
		t.Fatalf("the audit log shows a secret: %s", raw)
	}
}

func TestConnections_RotateAcceptsTheSameIDNDomainInUnicode(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/v1/connections", adminToken, `{"name":"books","type":"bearer","allowed_domain":"bücher.example","credentials":{"token":"t1"}}`)
	if r.Code != 201 || r.m(t)["allowed_domain"] != "xn--bcher-kva.example" {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	r = e.do("PATCH", "/v1/connections/books", adminToken, `{"allowed_domain":"BÜCHER.example.","credentials":{"token":"t2"}}`)
	if r.Code != 200 {
		t.Fatalf("same domain in Unicode refused: %d %s", r.Code, r.Body)
	}
	r = e.do("PATCH", "/v1/connections/books", adminToken, `{"credentials":{"token":"*****"}}`)
	if r.Code != 422 || !strings.Contains(string(r.Body), "redacted_placeholder") {
		t.Fatalf("mask accepted as a secret: %d %s", r.Code, r.Body)
	}
}

package connections_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
)

func validReq() connections.NewConnection {
	return connections.NewConnection{Name: "shop_api", Type: connections.TypeBearer, AllowedDomain: "api.example.com", Credentials: connections.Credentials{Token: "tok"}}
}

// problemAt returns the codes of the problems at pointer.
func problemAt(ps flow.Problems, pointer string) []string {
	var codes []string
	for _, p := range ps {
		if p.Pointer == pointer {
			codes = append(codes, p.Code)
		}
	}
	return codes
}

func TestValidateNew(t *testing.T) {
	long := strings.Repeat("a", 300)
	// withCredentials sets a request's type and credentials.
	withCredentials := func(typ string, c connections.Credentials) func(*connections.NewConnection) {
		return func(r *connections.NewConnection) { r.Type, r.Credentials = typ, c }
	}
	tests := []struct {
		name    string
		mod     func(*connections.NewConnection)
		pointer string // "" means no problems
		code    string
	}{
		{"OK", func(*connections.NewConnection) {}, "", ""},
		{"OKName3", func(r *connections.NewConnection) { r.Name = "abc" }, "", ""},
		{"OKName64", func(r *connections.NewConnection) { r.Name = strings.Repeat("a", 64) }, "", ""},
		{"ErrName2", func(r *connections.NewConnection) { r.Name = "ab" }, "/name", "invalid_name"},
		{"ErrName65", func(r *connections.NewConnection) { r.Name = strings.Repeat("a", 65) }, "/name", "invalid_name"},
		{"ErrNameUpper", func(r *connections.NewConnection) { r.Name = "Shop" }, "/name", "invalid_name"},
		{"ErrNameDash", func(r *connections.NewConnection) { r.Name = "shop-api" }, "/name", "invalid_name"},
		{"ErrNameEmpty", func(r *connections.NewConnection) { r.Name = "" }, "/name", "required"},
		{"ErrTypeEmpty", func(r *connections.NewConnection) { r.Type = "" }, "/type", "required"},
		{"ErrTypeUnknown", func(r *connections.NewConnection) { r.Type = "oauth2" }, "/type", "invalid_type"},
		{"ErrDomainEmpty", func(r *connections.NewConnection) { r.AllowedDomain = "" }, "/allowed_domain", "required"},
		{"ErrDomainScheme", func(r *connections.NewConnection) { r.AllowedDomain = "https://api.example.com" }, "/allowed_domain", "invalid_domain"},
		{"ErrDomainPath", func(r *connections.NewConnection) { r.AllowedDomain = "api.example.com/v1" }, "/allowed_domain", "invalid_domain"},
		{"ErrDomainPort", func(r *connections.NewConnection) { r.AllowedDomain = "api.example.com:443" }, "/allowed_domain", "invalid_domain"},
		{"ErrDomainUserInfo", func(r *connections.NewConnection) { r.AllowedDomain = "u@api.example.com" }, "/allowed_domain", "invalid_domain"},
		{"ErrDomainWildcard", func(r *connections.NewConnection) { r.AllowedDomain = "*.example.com" }, "/allowed_domain", "invalid_domain"},
		{"ErrDomainEmptyLabel", func(r *connections.NewConnection) { r.AllowedDomain = "api..example.com" }, "/allowed_domain", "invalid_domain"},
		{"OKDomainIDN", func(r *connections.NewConnection) { r.AllowedDomain = "Bücher.Example." }, "", ""},
		{"ErrSubdomainsOfTLD", func(r *connections.NewConnection) { r.AllowedDomain = "com"; r.AllowSubdomains = true }, "/allow_subdomains", "domain_too_broad"},
		// Under a public suffix anyone can register a name.
		{"ErrSubdomainsOfCoUK", func(r *connections.NewConnection) { r.AllowedDomain = "co.uk"; r.AllowSubdomains = true }, "/allow_subdomains", "domain_too_broad"},
		{"ErrSubdomainsOfGitHubIO", func(r *connections.NewConnection) { r.AllowedDomain = "GitHub.io."; r.AllowSubdomains = true }, "/allow_subdomains", "domain_too_broad"},
		{"ErrSubdomainsOfHerokuApp", func(r *connections.NewConnection) { r.AllowedDomain = "herokuapp.com"; r.AllowSubdomains = true }, "/allow_subdomains", "domain_too_broad"},
		{"OKSubdomainsOfExampleCoUK", func(r *connections.NewConnection) { r.AllowedDomain = "example.co.uk"; r.AllowSubdomains = true }, "", ""},
		{"OKSubdomainsOfExampleCom", func(r *connections.NewConnection) { r.AllowedDomain = "example.com"; r.AllowSubdomains = true }, "", ""},
		{"OKSubdomainsOfGitHubPage", func(r *connections.NewConnection) { r.AllowedDomain = "team.github.io"; r.AllowSubdomains = true }, "", ""},
		{"OKPublicSuffixHostAlone", func(r *connections.NewConnection) { r.AllowedDomain = "github.io" }, "", ""},
		{"OKLongJWT", func(r *connections.NewConnection) { r.Credentials.Token = "eyJ" + long }, "", ""},
		{"ErrTokenMissing", func(r *connections.NewConnection) { r.Credentials.Token = "" }, "/credentials/token", "required"},
		{"ErrTokenCRLF", func(r *connections.NewConnection) { r.Credentials.Token = "a\r\nX-Evil: 1" }, "/credentials/token", "invalid_characters"},
		{"ErrTokenNUL", func(r *connections.NewConnection) { r.Credentials.Token = "a\x00b" }, "/credentials/token", "invalid_characters"},
		{"ErrTokenTooLong", func(r *connections.NewConnection) {
			r.Credentials.Token = strings.Repeat("a", connections.MaxSecretLen+1)
		}, "/credentials/token", "too_long"},
		{"OKTokenAtCap", func(r *connections.NewConnection) {
			r.Credentials.Token = strings.Repeat("a", connections.MaxSecretLen)
		}, "", ""},
		{"ErrTokenWithBearerPrefix", func(r *connections.NewConnection) { r.Credentials.Token = "bearer eyJhbGciOi" }, "/credentials/token", "bearer_prefix"},
		{"OKTokenStartingWithBearer", func(r *connections.NewConnection) { r.Credentials.Token = "Bearer_x7" }, "", ""},
		{"ErrForeignField", func(r *connections.NewConnection) { r.Credentials.Password = "p" }, "/credentials/password", "field_not_allowed"},
		{"OKAPIKey", withCredentials(connections.TypeAPIKey, connections.Credentials{Header: "X-Api-Key", Value: long}), "", ""},
		{"OKAPIKeyInQuery", withCredentials(connections.TypeAPIKey, connections.Credentials{Query: "key", Value: long}), "", ""},
		{"OKAPIKeyQueryName64", withCredentials(connections.TypeAPIKey, connections.Credentials{Query: strings.Repeat("k", 64), Value: "v"}), "", ""},
		{"OKAPIKeyQueryNameUnreserved", withCredentials(connections.TypeAPIKey, connections.Credentials{Query: "api.key_v-2~", Value: "v"}), "", ""},
		{"ErrAPIKeyQueryName65", withCredentials(connections.TypeAPIKey, connections.Credentials{Query: strings.Repeat("k", 65), Value: "v"}), "/credentials/query", "invalid_query_name"},
		{"ErrAPIKeyQueryNameAmpersand", withCredentials(connections.TypeAPIKey, connections.Credentials{Query: "a&b", Value: "v"}), "/credentials/query", "invalid_query_name"},
		{"ErrAPIKeyQueryNameEquals", withCredentials(connections.TypeAPIKey, connections.Credentials{Query: "a=b", Value: "v"}), "/credentials/query", "invalid_query_name"},
		{"ErrAPIKeyQueryNoValue", withCredentials(connections.TypeAPIKey, connections.Credentials{Query: "key"}), "/credentials/value", "required"},
		{"ErrAPIKeyHeaderAndQuery", withCredentials(connections.TypeAPIKey, connections.Credentials{Header: "X-Key", Query: "key", Value: "v"}), "/credentials/query", "header_and_query"},
		{"ErrQueryOnBearer", withCredentials(connections.TypeBearer, connections.Credentials{Token: "t", Query: "key"}), "/credentials/query", "field_not_allowed"},
		{"ErrAPIKeyNoHeader", withCredentials(connections.TypeAPIKey, connections.Credentials{Value: "v"}), "/credentials/header", "required"},
		{"ErrAPIKeyNoValue", withCredentials(connections.TypeAPIKey, connections.Credentials{Header: "X-Key"}), "/credentials/value", "required"},
		{"ErrAPIKeyHeaderNotToken", withCredentials(connections.TypeAPIKey, connections.Credentials{Header: "X Key", Value: "v"}), "/credentials/header", "invalid_header_name"},
		{"ErrAPIKeyHeaderColon", withCredentials(connections.TypeAPIKey, connections.Credentials{Header: "X-Key:", Value: "v"}), "/credentials/header", "invalid_header_name"},
		{"ErrAPIKeyHeaderHost", withCredentials(connections.TypeAPIKey, connections.Credentials{Header: "host", Value: "v"}), "/credentials/header", "forbidden_header"},
		{"ErrAPIKeyHeaderContentLength", withCredentials(connections.TypeAPIKey, connections.Credentials{Header: "Content-Length", Value: "1"}), "/credentials/header", "forbidden_header"},
		{"ErrAPIKeyHeaderTransferEncoding", withCredentials(connections.TypeAPIKey, connections.Credentials{Header: "Transfer-Encoding", Value: "chunked"}), "/credentials/header", "forbidden_header"},
		{"ErrAPIKeyValueLF", withCredentials(connections.TypeAPIKey, connections.Credentials{Header: "X-Key", Value: "v\n"}), "/credentials/value", "invalid_characters"},
		{"OKBasic", withCredentials(connections.TypeBasic, connections.Credentials{Username: "u", Password: "p:w"}), "", ""},
		{"ErrBasicNoPassword", withCredentials(connections.TypeBasic, connections.Credentials{Username: "u"}), "/credentials/password", "required"},
		{"ErrBasicColonInUser", withCredentials(connections.TypeBasic, connections.Credentials{Username: "u:x", Password: "p"}), "/credentials/username", "invalid_characters"},
		{"ErrBasicNoUsername", withCredentials(connections.TypeBasic, connections.Credentials{Password: "p"}), "/credentials/username", "required"},
		{"ErrBasicUsernameTooLong", withCredentials(connections.TypeBasic, connections.Credentials{Username: strings.Repeat("u", connections.MaxNameFieldLen+1), Password: "p"}), "/credentials/username", "too_long"},
		{"OKBasicUsernameAtCap", withCredentials(connections.TypeBasic, connections.Credentials{Username: strings.Repeat("u", connections.MaxNameFieldLen), Password: "p"}), "", ""},
		{"ErrBasicUsernameCRLF", withCredentials(connections.TypeBasic, connections.Credentials{Username: "u\r\nX-Evil: 1", Password: "p"}), "/credentials/username", "invalid_characters"},
		{"OKOAuth", withCredentials(connections.TypeOAuth2CC, connections.Credentials{TokenURL: "https://auth.example.com/token", ClientID: "id", ClientSecret: "s", Scopes: []string{"read", "write:orders"}}), "", ""},
		{"OKOAuthNoScopes", withCredentials(connections.TypeOAuth2CC, connections.Credentials{TokenURL: "https://auth.example.com/token", ClientID: "id", ClientSecret: "s"}), "", ""},
		{"ErrOAuthHTTP", withCredentials(connections.TypeOAuth2CC, connections.Credentials{TokenURL: "http://auth.example.com/token", ClientID: "id", ClientSecret: "s"}), "/credentials/token_url", "invalid_url"},
		{"ErrOAuthRelative", withCredentials(connections.TypeOAuth2CC, connections.Credentials{TokenURL: "/token", ClientID: "id", ClientSecret: "s"}), "/credentials/token_url", "invalid_url"},
		{"ErrOAuthUserInfo", withCredentials(connections.TypeOAuth2CC, connections.Credentials{TokenURL: "https://a:b@auth.example.com/token", ClientID: "id", ClientSecret: "s"}), "/credentials/token_url", "invalid_url"},
		{"ErrOAuthNoTokenURL", withCredentials(connections.TypeOAuth2CC, connections.Credentials{ClientID: "id", ClientSecret: "s"}), "/credentials/token_url", "required"},
		{"ErrOAuthTokenURLTooLong", func(r *connections.NewConnection) {
			u := "https://auth.example.com/"
			r.Type, r.Credentials = connections.TypeOAuth2CC, connections.Credentials{TokenURL: u + strings.Repeat("t", connections.MaxTokenURLLen+1-len(u)), ClientID: "id", ClientSecret: "s"}
		}, "/credentials/token_url", "too_long"},
		{"OKOAuthTokenURLAtCap", func(r *connections.NewConnection) {
			u := "https://auth.example.com/"
			r.Type, r.Credentials = connections.TypeOAuth2CC, connections.Credentials{TokenURL: u + strings.Repeat("t", connections.MaxTokenURLLen-len(u)), ClientID: "id", ClientSecret: "s"}
		}, "", ""},
		{"OKOAuthTokenURLPortAndQuery", withCredentials(connections.TypeOAuth2CC, connections.Credentials{TokenURL: "https://auth.example.com:8443/oauth/token?audience=shop", ClientID: "id", ClientSecret: "s"}), "", ""},
		{"ErrOAuthTokenURLNoHost", withCredentials(connections.TypeOAuth2CC, connections.Credentials{TokenURL: "https:///token", ClientID: "id", ClientSecret: "s"}), "/credentials/token_url", "invalid_url"},
		{"ErrOAuthTokenURLBadHost", withCredentials(connections.TypeOAuth2CC, connections.Credentials{TokenURL: "https://auth..example.com/token", ClientID: "id", ClientSecret: "s"}), "/credentials/token_url", "invalid_url"},
		{"ErrOAuthTokenURLFragment", withCredentials(connections.TypeOAuth2CC, connections.Credentials{TokenURL: "https://auth.example.com/token#x", ClientID: "id", ClientSecret: "s"}), "/credentials/token_url", "invalid_url"},
		{"ErrOAuthTokenURLEmptyFragment", withCredentials(connections.TypeOAuth2CC, connections.Credentials{TokenURL: "https://auth.example.com/token#", ClientID: "id", ClientSecret: "s"}), "/credentials/token_url", "invalid_url"},
		{"ErrOAuthTokenURLCRLF", withCredentials(connections.TypeOAuth2CC, connections.Credentials{TokenURL: "https://auth.example.com/token\r\nX-Evil: 1", ClientID: "id", ClientSecret: "s"}), "/credentials/token_url", "invalid_characters"},
		{"ErrOAuthNoClientID", withCredentials(connections.TypeOAuth2CC, connections.Credentials{TokenURL: "https://auth.example.com/token", ClientSecret: "s"}), "/credentials/client_id", "required"},
		{"ErrOAuthClientIDTooLong", withCredentials(connections.TypeOAuth2CC, connections.Credentials{TokenURL: "https://auth.example.com/token", ClientID: strings.Repeat("c", connections.MaxNameFieldLen+1), ClientSecret: "s"}), "/credentials/client_id", "too_long"},
		{"OKOAuthClientIDOneChar", withCredentials(connections.TypeOAuth2CC, connections.Credentials{TokenURL: "https://auth.example.com/token", ClientID: "c", ClientSecret: "s"}), "", ""},
		{"OKOAuthClientIDAtCap", withCredentials(connections.TypeOAuth2CC, connections.Credentials{TokenURL: "https://auth.example.com/token", ClientID: strings.Repeat("c", connections.MaxNameFieldLen), ClientSecret: "s"}), "", ""},
		{"ErrOAuthClientIDLF", withCredentials(connections.TypeOAuth2CC, connections.Credentials{TokenURL: "https://auth.example.com/token", ClientID: "id\n", ClientSecret: "s"}), "/credentials/client_id", "invalid_characters"},
		{"ErrOAuthNoSecret", withCredentials(connections.TypeOAuth2CC, connections.Credentials{TokenURL: "https://auth.example.com/token", ClientID: "id"}), "/credentials/client_secret", "required"},
		{"ErrOAuthScopeSpace", withCredentials(connections.TypeOAuth2CC, connections.Credentials{TokenURL: "https://auth.example.com/token", ClientID: "id", ClientSecret: "s", Scopes: []string{"ok", "a b"}}), "/credentials/scopes/1", "invalid_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := validReq()
			tc.mod(&req)
			ps := connections.ValidateNew(req)
			if tc.pointer == "" {
				if len(ps) != 0 {
					t.Fatalf("problems = %+v, want none", ps)
				}
				return
			}
			codes := problemAt(ps, tc.pointer)
			if len(codes) == 0 || codes[0] != tc.code {
				t.Fatalf("problems = %+v, want %s at %s", ps, tc.code, tc.pointer)
			}
			// A credential field's message names it too ("credentials.client_id
			// is required"), not only its pointer.
			if field, ok := strings.CutPrefix(tc.pointer, "/credentials/"); ok && !strings.Contains(field, "/") {
				for _, p := range ps {
					if p.Pointer == tc.pointer && !strings.Contains(p.Message, "credentials."+field) {
						t.Errorf("message %q at %s does not name credentials.%s", p.Message, p.Pointer, field)
					}
				}
			}
			for _, p := range ps {
				if p.Message == "" || p.Severity != flow.SeverityError {
					t.Errorf("problem %+v lacks message or error severity", p)
				}
			}
		})
	}
}

func TestPublicAndView(t *testing.T) {
	tests := []struct {
		typ   string
		creds connections.Credentials
		want  string
	}{
		{connections.TypeAPIKey, connections.Credentials{Header: "X-Api-Key", Value: "sekrit"}, `{"header":"X-Api-Key","value":"*****"}`},
		{connections.TypeBearer, connections.Credentials{Token: "sekrit"}, `{"token":"*****"}`},
		{connections.TypeBasic, connections.Credentials{Username: "bob", Password: "sekrit"}, `{"password":"*****","username":"bob"}`},
		{connections.TypeOAuth2CC, connections.Credentials{TokenURL: "https://a.example.com/t", ClientID: "cid", ClientSecret: "sekrit", Scopes: []string{"a", "b"}},
			`{"client_id":"cid","client_secret":"*****","scopes":["a","b"],"token_url":"https://a.example.com/t"}`},
		{connections.TypeOAuth2CC, connections.Credentials{TokenURL: "https://a.example.com/t", ClientID: "cid", ClientSecret: "sekrit"},
			`{"client_id":"cid","client_secret":"*****","scopes":[],"token_url":"https://a.example.com/t"}`},
	}
	for _, tc := range tests {
		t.Run(tc.typ, func(t *testing.T) {
			c := &connections.Connection{ID: "id", Name: "n", Type: tc.typ, AllowedDomain: "example.com", Public: connections.Public(tc.creds)}
			v, err := json.Marshal(connections.NewView(c, time.Now()).Credentials)
			if err != nil {
				t.Fatal(err)
			}
			if string(v) != tc.want {
				t.Fatalf("view credentials = %s, want %s", v, tc.want)
			}
			for _, pv := range c.Public {
				if strings.Contains(pv, "sekrit") {
					t.Fatal("Public holds a secret")
				}
			}
		})
	}
}

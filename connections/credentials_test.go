package connections

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flowbot/flowbot/flow"
)

func validReq() NewConnection {
	return NewConnection{Name: "shop_api", Type: TypeBearer, AllowedDomain: "api.example.com", Credentials: Credentials{Token: "tok"}}
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
	tests := []struct {
		name    string
		mod     func(*NewConnection)
		pointer string // "" means no problems
		code    string
	}{
		{"OK", func(*NewConnection) {}, "", ""},
		{"OKName3", func(r *NewConnection) { r.Name = "abc" }, "", ""},
		{"OKName64", func(r *NewConnection) { r.Name = strings.Repeat("a", 64) }, "", ""},
		{"ErrName2", func(r *NewConnection) { r.Name = "ab" }, "/name", "invalid_name"},
		{"ErrName65", func(r *NewConnection) { r.Name = strings.Repeat("a", 65) }, "/name", "invalid_name"},
		{"ErrNameUpper", func(r *NewConnection) { r.Name = "Shop" }, "/name", "invalid_name"},
		{"ErrNameDash", func(r *NewConnection) { r.Name = "shop-api" }, "/name", "invalid_name"},
		{"ErrNameEmpty", func(r *NewConnection) { r.Name = "" }, "/name", "required"},
		{"ErrTypeEmpty", func(r *NewConnection) { r.Type = "" }, "/type", "required"},
		{"ErrTypeUnknown", func(r *NewConnection) { r.Type = "oauth2" }, "/type", "invalid_type"},
		{"ErrDomainEmpty", func(r *NewConnection) { r.AllowedDomain = "" }, "/allowed_domain", "required"},
		{"ErrDomainScheme", func(r *NewConnection) { r.AllowedDomain = "https://api.example.com" }, "/allowed_domain", "invalid_domain"},
		{"ErrDomainPath", func(r *NewConnection) { r.AllowedDomain = "api.example.com/v1" }, "/allowed_domain", "invalid_domain"},
		{"ErrDomainPort", func(r *NewConnection) { r.AllowedDomain = "api.example.com:443" }, "/allowed_domain", "invalid_domain"},
		{"ErrDomainUserInfo", func(r *NewConnection) { r.AllowedDomain = "u@api.example.com" }, "/allowed_domain", "invalid_domain"},
		{"ErrDomainWildcard", func(r *NewConnection) { r.AllowedDomain = "*.example.com" }, "/allowed_domain", "invalid_domain"},
		{"ErrDomainEmptyLabel", func(r *NewConnection) { r.AllowedDomain = "api..example.com" }, "/allowed_domain", "invalid_domain"},
		{"OKDomainIDN", func(r *NewConnection) { r.AllowedDomain = "Bücher.Example." }, "", ""},
		{"ErrSubdomainsOfTLD", func(r *NewConnection) { r.AllowedDomain = "com"; r.AllowSubdomains = true }, "/allow_subdomains", "domain_too_broad"},
		{"OKLongJWT", func(r *NewConnection) { r.Credentials.Token = "eyJ" + long }, "", ""},
		{"ErrTokenMissing", func(r *NewConnection) { r.Credentials.Token = "" }, "/credentials/token", "required"},
		{"ErrTokenCRLF", func(r *NewConnection) { r.Credentials.Token = "a\r\nX-Evil: 1" }, "/credentials/token", "invalid_characters"},
		{"ErrTokenNUL", func(r *NewConnection) { r.Credentials.Token = "a\x00b" }, "/credentials/token", "invalid_characters"},
		{"ErrTokenTooLong", func(r *NewConnection) { r.Credentials.Token = strings.Repeat("a", MaxSecretLen+1) }, "/credentials/token", "too_long"},
		{"OKTokenAtCap", func(r *NewConnection) { r.Credentials.Token = strings.Repeat("a", MaxSecretLen) }, "", ""},
		{"ErrForeignField", func(r *NewConnection) { r.Credentials.Password = "p" }, "/credentials/password", "field_not_allowed"},
		{"OKAPIKey", func(r *NewConnection) {
			r.Type, r.Credentials = TypeAPIKey, Credentials{Header: "X-Api-Key", Value: long}
		}, "", ""},
		{"ErrAPIKeyNoHeader", func(r *NewConnection) {
			r.Type, r.Credentials = TypeAPIKey, Credentials{Value: "v"}
		}, "/credentials/header", "required"},
		{"ErrAPIKeyNoValue", func(r *NewConnection) {
			r.Type, r.Credentials = TypeAPIKey, Credentials{Header: "X-Key"}
		}, "/credentials/value", "required"},
		{"ErrAPIKeyHeaderNotToken", func(r *NewConnection) {
			r.Type, r.Credentials = TypeAPIKey, Credentials{Header: "X Key", Value: "v"}
		}, "/credentials/header", "invalid_header_name"},
		{"ErrAPIKeyHeaderColon", func(r *NewConnection) {
			r.Type, r.Credentials = TypeAPIKey, Credentials{Header: "X-Key:", Value: "v"}
		}, "/credentials/header", "invalid_header_name"},
		{"ErrAPIKeyHeaderHost", func(r *NewConnection) {
			r.Type, r.Credentials = TypeAPIKey, Credentials{Header: "host", Value: "v"}
		}, "/credentials/header", "forbidden_header"},
		{"ErrAPIKeyHeaderContentLength", func(r *NewConnection) {
			r.Type, r.Credentials = TypeAPIKey, Credentials{Header: "Content-Length", Value: "1"}
		}, "/credentials/header", "forbidden_header"},
		{"ErrAPIKeyHeaderTransferEncoding", func(r *NewConnection) {
			r.Type, r.Credentials = TypeAPIKey, Credentials{Header: "Transfer-Encoding", Value: "chunked"}
		}, "/credentials/header", "forbidden_header"},
		{"ErrAPIKeyValueLF", func(r *NewConnection) {
			r.Type, r.Credentials = TypeAPIKey, Credentials{Header: "X-Key", Value: "v\n"}
		}, "/credentials/value", "invalid_characters"},
		{"OKBasic", func(r *NewConnection) {
			r.Type, r.Credentials = TypeBasic, Credentials{Username: "u", Password: "p:w"}
		}, "", ""},
		{"ErrBasicNoPassword", func(r *NewConnection) {
			r.Type, r.Credentials = TypeBasic, Credentials{Username: "u"}
		}, "/credentials/password", "required"},
		{"ErrBasicColonInUser", func(r *NewConnection) {
			r.Type, r.Credentials = TypeBasic, Credentials{Username: "u:x", Password: "p"}
		}, "/credentials/username", "invalid_characters"},
		{"ErrBasicNoUsername", func(r *NewConnection) {
			r.Type, r.Credentials = TypeBasic, Credentials{Password: "p"}
		}, "/credentials/username", "required"},
		{"ErrBasicUsernameTooLong", func(r *NewConnection) {
			r.Type, r.Credentials = TypeBasic, Credentials{Username: strings.Repeat("u", MaxNameFieldLen+1), Password: "p"}
		}, "/credentials/username", "too_long"},
		{"OKBasicUsernameAtCap", func(r *NewConnection) {
			r.Type, r.Credentials = TypeBasic, Credentials{Username: strings.Repeat("u", MaxNameFieldLen), Password: "p"}
		}, "", ""},
		{"ErrBasicUsernameCRLF", func(r *NewConnection) {
			r.Type, r.Credentials = TypeBasic, Credentials{Username: "u\r\nX-Evil: 1", Password: "p"}
		}, "/credentials/username", "invalid_characters"},
		{"OKOAuth", func(r *NewConnection) {
			r.Type, r.Credentials = TypeOAuth2CC, Credentials{TokenURL: "https://auth.example.com/token", ClientID: "id", ClientSecret: "s", Scopes: []string{"read", "write:orders"}}
		}, "", ""},
		{"OKOAuthNoScopes", func(r *NewConnection) {
			r.Type, r.Credentials = TypeOAuth2CC, Credentials{TokenURL: "https://auth.example.com/token", ClientID: "id", ClientSecret: "s"}
		}, "", ""},
		{"ErrOAuthHTTP", func(r *NewConnection) {
			r.Type, r.Credentials = TypeOAuth2CC, Credentials{TokenURL: "http://auth.example.com/token", ClientID: "id", ClientSecret: "s"}
		}, "/credentials/token_url", "invalid_url"},
		{"ErrOAuthRelative", func(r *NewConnection) {
			r.Type, r.Credentials = TypeOAuth2CC, Credentials{TokenURL: "/token", ClientID: "id", ClientSecret: "s"}
		}, "/credentials/token_url", "invalid_url"},
		{"ErrOAuthUserInfo", func(r *NewConnection) {
			r.Type, r.Credentials = TypeOAuth2CC, Credentials{TokenURL: "https://a:b@auth.example.com/token", ClientID: "id", ClientSecret: "s"}
		}, "/credentials/token_url", "invalid_url"},
		{"ErrOAuthNoTokenURL", func(r *NewConnection) {
			r.Type, r.Credentials = TypeOAuth2CC, Credentials{ClientID: "id", ClientSecret: "s"}
		}, "/credentials/token_url", "required"},
		{"ErrOAuthTokenURLTooLong", func(r *NewConnection) {
			u := "https://auth.example.com/"
			r.Type, r.Credentials = TypeOAuth2CC, Credentials{TokenURL: u + strings.Repeat("t", MaxTokenURLLen+1-len(u)), ClientID: "id", ClientSecret: "s"}
		}, "/credentials/token_url", "too_long"},
		{"OKOAuthTokenURLAtCap", func(r *NewConnection) {
			u := "https://auth.example.com/"
			r.Type, r.Credentials = TypeOAuth2CC, Credentials{TokenURL: u + strings.Repeat("t", MaxTokenURLLen-len(u)), ClientID: "id", ClientSecret: "s"}
		}, "", ""},
		{"OKOAuthTokenURLPortAndQuery", func(r *NewConnection) {
			r.Type, r.Credentials = TypeOAuth2CC, Credentials{TokenURL: "https://auth.example.com:8443/oauth/token?audience=shop", ClientID: "id", ClientSecret: "s"}
		}, "", ""},
		{"ErrOAuthTokenURLNoHost", func(r *NewConnection) {
			r.Type, r.Credentials = TypeOAuth2CC, Credentials{TokenURL: "https:///token", ClientID: "id", ClientSecret: "s"}
		}, "/credentials/token_url", "invalid_url"},
		{"ErrOAuthTokenURLBadHost", func(r *NewConnection) {
			r.Type, r.Credentials = TypeOAuth2CC, Credentials{TokenURL: "https://auth..example.com/token", ClientID: "id", ClientSecret: "s"}
		}, "/credentials/token_url", "invalid_url"},
		{"ErrOAuthTokenURLFragment", func(r *NewConnection) {
			r.Type, r.Credentials = TypeOAuth2CC, Credentials{TokenURL: "https://auth.example.com/token#x", ClientID: "id", ClientSecret: "s"}
		}, "/credentials/token_url", "invalid_url"},
		{"ErrOAuthTokenURLEmptyFragment", func(r *NewConnection) {
			r.Type, r.Credentials = TypeOAuth2CC, Credentials{TokenURL: "https://auth.example.com/token#", ClientID: "id", ClientSecret: "s"}
		}, "/credentials/token_url", "invalid_url"},
		{"ErrOAuthTokenURLCRLF", func(r *NewConnection) {
			r.Type, r.Credentials = TypeOAuth2CC, Credentials{TokenURL: "https://auth.example.com/token\r\nX-Evil: 1", ClientID: "id", ClientSecret: "s"}
		}, "/credentials/token_url", "invalid_characters"},
		{"ErrOAuthNoClientID", func(r *NewConnection) {
			r.Type, r.Credentials = TypeOAuth2CC, Credentials{TokenURL: "https://auth.example.com/token", ClientSecret: "s"}
		}, "/credentials/client_id", "required"},
		{"ErrOAuthClientIDTooLong", func(r *NewConnection) {
			r.Type, r.Credentials = TypeOAuth2CC, Credentials{TokenURL: "https://auth.example.com/token", ClientID: strings.Repeat("c", MaxNameFieldLen+1), ClientSecret: "s"}
		}, "/credentials/client_id", "too_long"},
		{"OKOAuthClientIDOneChar", func(r *NewConnection) {
			r.Type, r.Credentials = TypeOAuth2CC, Credentials{TokenURL: "https://auth.example.com/token", ClientID: "c", ClientSecret: "s"}
		}, "", ""},
		{"OKOAuthClientIDAtCap", func(r *NewConnection) {
			r.Type, r.Credentials = TypeOAuth2CC, Credentials{TokenURL: "https://auth.example.com/token", ClientID: strings.Repeat("c", MaxNameFieldLen), ClientSecret: "s"}
		}, "", ""},
		{"ErrOAuthClientIDLF", func(r *NewConnection) {
			r.Type, r.Credentials = TypeOAuth2CC, Credentials{TokenURL: "https://auth.example.com/token", ClientID: "id\n", ClientSecret: "s"}
		}, "/credentials/client_id", "invalid_characters"},
		{"ErrOAuthNoSecret", func(r *NewConnection) {
			r.Type, r.Credentials = TypeOAuth2CC, Credentials{TokenURL: "https://auth.example.com/token", ClientID: "id"}
		}, "/credentials/client_secret", "required"},
		{"ErrOAuthScopeSpace", func(r *NewConnection) {
			r.Type, r.Credentials = TypeOAuth2CC, Credentials{TokenURL: "https://auth.example.com/token", ClientID: "id", ClientSecret: "s", Scopes: []string{"ok", "a b"}}
		}, "/credentials/scopes/1", "invalid_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := validReq()
			tc.mod(&req)
			ps := ValidateNew(req)
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
		creds Credentials
		want  string
	}{
		{TypeAPIKey, Credentials{Header: "X-Api-Key", Value: "sekrit"}, `{"header":"X-Api-Key","value":"*****"}`},
		{TypeBearer, Credentials{Token: "sekrit"}, `{"token":"*****"}`},
		{TypeBasic, Credentials{Username: "bob", Password: "sekrit"}, `{"password":"*****","username":"bob"}`},
		{TypeOAuth2CC, Credentials{TokenURL: "https://a.example.com/t", ClientID: "cid", ClientSecret: "sekrit", Scopes: []string{"a", "b"}},
			`{"client_id":"cid","client_secret":"*****","scopes":["a","b"],"token_url":"https://a.example.com/t"}`},
		{TypeOAuth2CC, Credentials{TokenURL: "https://a.example.com/t", ClientID: "cid", ClientSecret: "sekrit"},
			`{"client_id":"cid","client_secret":"*****","scopes":[],"token_url":"https://a.example.com/t"}`},
	}
	for _, tc := range tests {
		t.Run(tc.typ, func(t *testing.T) {
			c := &Connection{ID: "id", Name: "n", Type: tc.typ, AllowedDomain: "example.com", Public: Public(tc.creds)}
			v, err := json.Marshal(NewView(c).Credentials)
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

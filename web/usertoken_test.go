package web_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowbot/flowbot/web"
)

const userSecret = "0123456789abcdef0123456789abcdef" // 32 characters: the shortest accepted

// signUser makes a JWT as a website's server would: HS256 over the
// header and claims with the shared secret.
func signUser(t *testing.T, alg, secret string, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	in := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(in))
	return in + "." + enc.EncodeToString(mac.Sum(nil))
}

// whoBot greets the user with every user system variable.
const whoBot = `{"start":"hi","steps":[
 {"id":"hi","type":"message","text":"id={{user.external_id}} name={{user.name}} email={{user.email}} auth={{user.authenticated}} locale={{user.locale}}","next":"bye"},
 {"id":"bye","type":"end"}]}`

// TestConversation_UserToken: a user is verified only by a user_token the
// website signs (HS256, FLOWBOT_USER_TOKEN_SECRET); without one nobody
// can claim user.authenticated, and once the secret is set nobody can
// claim an external_id or email, which flows use to look up a user's data.
func TestConversation_UserToken(t *testing.T) {
	now := time.Now()
	e := newEnv(t, func(d *web.Deps, _ *env) { d.UserTokenSecret = []byte(userSecret) })
	bot := e.publishBot(whoBot)
	good := map[string]any{"external_id": "cust-42", "name": "Ann", "email": "ann@example.com", "exp": now.Add(5 * time.Minute).Unix()}
	with := func(k string, v any) map[string]any {
		c := map[string]any{}
		for k, v := range good {
			c[k] = v
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}

	t.Run("OKVerified", func(t *testing.T) {
		e := e.with(t)
		c := e.start(bot, map[string]any{"user_token": signUser(t, "HS256", userSecret, good), "user": map[string]any{"locale": "fr"}})
		if want := "id=cust-42 name=Ann email=ann@example.com auth=true locale=fr"; c.text() != want {
			t.Fatalf("got %q; want %q", c.text(), want)
		}
	})
	t.Run("OKSubAndJustInsideTheLeeway", func(t *testing.T) {
		e := e.with(t)
		tok := signUser(t, "HS256", userSecret, map[string]any{"sub": "s-1", "exp": now.Add(-50 * time.Second).Unix()})
		if c := e.start(bot, map[string]any{"user_token": tok}); !strings.HasPrefix(c.text(), "id=s-1 name= email= auth=true") {
			t.Fatalf("got %q", c.text())
		}
	})
	t.Run("OKExp24HoursAhead", func(t *testing.T) {
		e := e.with(t)
		if c := e.start(bot, map[string]any{"user_token": signUser(t, "HS256", userSecret, with("exp", now.Add(24*time.Hour).Unix()))}); !strings.Contains(c.text(), "auth=true") {
			t.Fatalf("got %q", c.text())
		}
	})
	t.Run("OKClaimsOf256Characters", func(t *testing.T) {
		e := e.with(t)
		long := strings.Repeat("é", 256)
		tok := signUser(t, "HS256", userSecret, with("name", long))
		if c := e.start(bot, map[string]any{"user_token": tok}); !strings.Contains(c.text(), "name="+long+" ") {
			t.Fatalf("got %q", c.text())
		}
	})
	t.Run("OKAnonymous", func(t *testing.T) {
		e := e.with(t)
		if c := e.start(bot, map[string]any{"user": map[string]any{"name": "Bo", "authenticated": false}}); c.text() != "id= name=Bo email= auth=false locale=" {
			t.Fatalf("got %q", c.text())
		}
	})

	refused := []struct {
		name, pointer, code string
		body                map[string]any
	}{
		{"ErrClaimsAuthenticated", "/user/authenticated", "not_verified", map[string]any{"user": map[string]any{"authenticated": true}}},
		{"ErrClaimsExternalID", "/user/external_id", "not_verified", map[string]any{"user": map[string]any{"external_id": "victim-42"}}},
		{"ErrClaimsEmail", "/user/email", "not_verified", map[string]any{"user": map[string]any{"email": "victim@example.com"}}},
		{"ErrTokenAndExternalID", "/user/external_id", "conflicts_with_user_token", map[string]any{"user_token": signUser(t, "HS256", userSecret, good), "user": map[string]any{"external_id": "x"}}},
		{"ErrWrongSecret", "/user_token", "invalid_user_token", map[string]any{"user_token": signUser(t, "HS256", userSecret+"x", good)}},
		// Signed correctly, so only the algorithm check refuses it.
		{"ErrAlgNone", "/user_token", "invalid_user_token", map[string]any{"user_token": signUser(t, "none", userSecret, good)}},
		{"ErrSignatureOtherSpelling", "/user_token", "invalid_user_token", map[string]any{"user_token": respell(signUser(t, "HS256", userSecret, good))}},
		{"ErrNewlineInToken", "/user_token", "invalid_user_token", map[string]any{"user_token": strings.Replace(signUser(t, "HS256", userSecret, good), ".", ".\n", 1)}},
		{"ErrExpAsString", "/user_token", "invalid_user_token", map[string]any{"user_token": signUser(t, "HS256", userSecret, with("exp", strconv.FormatInt(now.Add(time.Minute).Unix(), 10)))}},
		{"ErrClaimNameInCapitals", "/user_token", "invalid_user_token", map[string]any{"user_token": signUser(t, "HS256", userSecret, map[string]any{"EXTERNAL_ID": "x", "exp": now.Add(time.Minute).Unix()})}},
		{"ErrNameNotAString", "/user_token", "invalid_user_token", map[string]any{"user_token": signUser(t, "HS256", userSecret, with("name", 42))}},
		{"ErrExpPast24Hours", "/user_token", "invalid_user_token", map[string]any{"user_token": signUser(t, "HS256", userSecret, with("exp", now.Add(24*time.Hour+2*time.Minute).Unix()))}},
		{"ErrAlgHS512", "/user_token", "invalid_user_token", map[string]any{"user_token": signUser(t, "HS512", userSecret, good)}},
		{"ErrTamperedClaims", "/user_token", "invalid_user_token", map[string]any{"user_token": tamper(t, signUser(t, "HS256", userSecret, good))}},
		{"ErrNotAJWT", "/user_token", "invalid_user_token", map[string]any{"user_token": "abc.def"}},
		{"ErrEmpty", "/user_token", "invalid_user_token", map[string]any{"user_token": ""}},
		{"ErrNoExternalID", "/user_token", "invalid_user_token", map[string]any{"user_token": signUser(t, "HS256", userSecret, with("external_id", nil))}},
		{"ErrNoExp", "/user_token", "invalid_user_token", map[string]any{"user_token": signUser(t, "HS256", userSecret, with("exp", nil))}},
		{"ErrExpNotANumber", "/user_token", "invalid_user_token", map[string]any{"user_token": signUser(t, "HS256", userSecret, with("exp", "tomorrow"))}},
		{"ErrExpired", "/user_token", "user_token_expired", map[string]any{"user_token": signUser(t, "HS256", userSecret, with("exp", now.Add(-70*time.Second).Unix()))}},
		{"ErrNotYetValid", "/user_token", "invalid_user_token", map[string]any{"user_token": signUser(t, "HS256", userSecret, with("nbf", now.Add(5*time.Minute).Unix()))}},
		{"ErrClaimOf257Characters", "/user_token", "invalid_user_token", map[string]any{"user_token": signUser(t, "HS256", userSecret, with("name", strings.Repeat("é", 257)))}},
		{"ErrTooLong", "/user_token", "invalid_user_token", map[string]any{"user_token": signUser(t, "HS256", userSecret, with("pad", strings.Repeat("x", 4000)))}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do("POST", "/v1/bots/"+bot+"/conversations", "", tc.body)
			if r.Code != 422 {
				t.Fatalf("got %d %s; want 422", r.Code, r.Body)
			}
			var body struct {
				Error struct {
					Message string
					Details []any
				}
			}
			r.json(t, &body)
			if !hasProblem(body.Error.Details, tc.pointer, tc.code) || body.Error.Message == "" {
				t.Fatalf("want %s %s: %s", tc.pointer, tc.code, r.Body)
			}
			if strings.Contains(string(r.Body), userSecret) {
				t.Fatal("the secret is in the answer")
			}
		})
	}

	t.Run("ErrTokenWithoutSecret", func(t *testing.T) {
		e := newEnv(t)
		bot := e.publishBot(whoBot)
		r := e.do("POST", "/v1/bots/"+bot+"/conversations", "", map[string]any{"user_token": signUser(t, "HS256", userSecret, good)})
		if r.Code != 422 || !strings.Contains(string(r.Body), "user_token_not_accepted") {
			t.Fatalf("got %d %s", r.Code, r.Body)
		}
		// Without a secret, an unverified external_id may still be given
		// (SPEC §2), but never user.authenticated.
		if c := e.start(bot, map[string]any{"user": map[string]any{"external_id": "e1"}}); !strings.HasPrefix(c.text(), "id=e1 ") || !strings.Contains(c.text(), "auth=false") {
			t.Fatalf("got %q", c.text())
		}
	})
}

// tamper changes the claims of a signed token, keeping its signature.
func tamper(t *testing.T, tok string) string {
	parts := strings.Split(tok, ".")
	c, _ := json.Marshal(map[string]any{"external_id": "cust-1", "exp": time.Now().Add(time.Hour).Unix()})
	parts[1] = base64.RawURLEncoding.EncodeToString(c)
	return strings.Join(parts, ".")
}

// respell writes a token's signature another way that lenient base64
// decoding reads as the same bytes: the last character's unused low bit
// flipped.
func respell(tok string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	return tok[:len(tok)-1] + string(alphabet[last^1])
}

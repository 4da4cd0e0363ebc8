package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flowbot/flowbot/flow"
)

// Limits of a user token.
const (
	// MinUserTokenSecretLen is the shortest user token secret accepted: 32
	// characters, as for HS256 keys generally (RFC 7518 §3.2 asks for at
	// least 256 bits).
	MinUserTokenSecretLen = 32
	maxUserTokenLen       = 4096
	maxUserClaimLen       = 256
	// userTokenLeeway allows for clocks a little apart between the website
	// that signs a token and this server.
	userTokenLeeway = 60 * time.Second
)

// userClaims are the claims of a user token that flowbot reads.
type userClaims struct {
	ExternalID, Name, Email string
}

// maxUserTokenLifetime bounds how far ahead a token's exp may be: a token
// copied out of a page must not stay good for long.
const maxUserTokenLifetime = 24 * time.Hour

// identify sets who the conversation's user is. A user is verified
// (user.authenticated "true") only by a user_token: a JWT the website's
// own server signs with HS256 and the secret it shares with this server
// (FLOWBOT_USER_TOKEN_SECRET), carrying external_id (or sub), optionally
// name and email, and exp. Without a token, user.authenticated cannot be
// claimed; and once a secret is set, neither can external_id or email, so
// a flow that looks a user's data up by {{user.external_id}} can trust it.
func (s *Server) identify(req *startRequest, u *flow.User) error {
	if req.UserToken == nil {
		if u.Authenticated {
			return ruleError("/user/authenticated", "not_verified",
				"user.authenticated is true only for a user verified by a signed user_token; send the token instead")
		}
		if len(s.UserTokenSecret) > 0 {
			if u.ExternalID != "" {
				return ruleError("/user/external_id", "not_verified", fromTokenOnly("external_id"))
			}
			if u.Email != "" {
				return ruleError("/user/email", "not_verified", fromTokenOnly("email"))
			}
		}
		return nil
	}
	if len(s.UserTokenSecret) == 0 {
		return ruleError("/user_token", "user_token_not_accepted",
			"this server does not verify user tokens: an admin sets FLOWBOT_USER_TOKEN_SECRET first")
	}
	for _, f := range []struct {
		ptr string
		set bool
	}{{"/user/external_id", u.ExternalID != ""}, {"/user/name", u.Name != ""}, {"/user/email", u.Email != ""}, {"/user/authenticated", u.Authenticated}} {
		if f.set { // the first, in a fixed order
			return ruleError(f.ptr, "conflicts_with_user_token", f.ptr[len("/user/"):]+" comes from the user_token; do not send it as well")
		}
	}
	c, err := verifyUserToken(*req.UserToken, s.UserTokenSecret, s.Now())
	if err != nil {
		return err
	}
	u.ExternalID, u.Name, u.Email, u.Authenticated = c.ExternalID, c.Name, c.Email, true
	return nil
}

func fromTokenOnly(field string) string {
	return "with identity verification on, " + field + " comes only from a signed user_token; send the token instead"
}

// b64 decodes a JWT part: base64url without padding, strictly (unused
// low bits must be zero), so each token has exactly one spelling.
var b64 = base64.RawURLEncoding.Strict()

// verifyUserToken checks a compact JWT signed with HS256 and secret, and
// returns its claims. Only HS256 is accepted: a token's own header never
// chooses a weaker check ("none") or another key.
func verifyUserToken(tok string, secret []byte, now time.Time) (*userClaims, error) {
	bad := func(why string) error {
		return ruleError("/user_token", "invalid_user_token", "user_token is not valid: "+why)
	}
	if len(tok) > maxUserTokenLen {
		return nil, bad("it is over " + strconv.Itoa(maxUserTokenLen) + " bytes")
	}
	if strings.IndexFunc(tok, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' && r != '_' && r != '.'
	}) >= 0 {
		return nil, bad("a JWT holds only base64url characters and periods")
	}
	head, rest, ok1 := strings.Cut(tok, ".")
	body, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(sig, ".") {
		return nil, bad("a JWT has three parts separated by periods")
	}
	var h struct {
		Alg string `json:"alg"`
	}
	hb, err := b64.DecodeString(head)
	if err != nil || json.Unmarshal(hb, &h) != nil {
		return nil, bad("its header is not base64url-encoded JSON")
	}
	if h.Alg != "HS256" {
		return nil, bad("it is signed with " + strconv.Quote(h.Alg) + "; sign it with HS256")
	}
	got, err := b64.DecodeString(sig)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(tok[:len(head)+1+len(body)]))
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return nil, bad("its signature does not match the user token secret")
	}
	pb, err := b64.DecodeString(body)
	if err != nil {
		return nil, bad("its claims are not base64url-encoded")
	}
	// Claim names are matched exactly (encoding/json would also take
	// "EXTERNAL_ID"), and each has its JSON type.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(pb, &raw); err != nil {
		return nil, bad("its claims are not a JSON object")
	}
	text := func(name string) (string, error) {
		v, ok := raw[name]
		if !ok {
			return "", nil
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", bad("its " + name + " claim is not a JSON string")
		}
		if n := utf8.RuneCountInString(s); n > maxUserClaimLen {
			return "", bad("its " + name + " claim is " + strconv.Itoa(n) + " characters; at most " + strconv.Itoa(maxUserClaimLen))
		}
		return s, nil
	}
	var c userClaims
	var sub string
	for _, f := range []struct {
		name string
		to   *string
	}{{"external_id", &c.ExternalID}, {"sub", &sub}, {"name", &c.Name}, {"email", &c.Email}} {
		if *f.to, err = text(f.name); err != nil {
			return nil, err
		}
	}
	if c.ExternalID == "" {
		c.ExternalID = sub
	}
	if c.ExternalID == "" {
		return nil, bad("it has no external_id (or sub) claim")
	}
	if _, ok := raw["exp"]; !ok {
		return nil, bad("it has no exp claim; give it one, minutes ahead")
	}
	exp, ok := numericDate(raw["exp"])
	if !ok {
		return nil, bad("its exp claim is not a number of seconds since 1970")
	}
	if now.After(exp.Add(userTokenLeeway)) {
		return nil, ruleError("/user_token", "user_token_expired", "user_token expired at "+exp.UTC().Format(time.RFC3339)+"; sign a new one")
	}
	if exp.After(now.Add(maxUserTokenLifetime + userTokenLeeway)) {
		return nil, bad("its exp is more than 24 hours ahead; sign tokens that expire within minutes")
	}
	if v, ok := raw["nbf"]; ok {
		nbf, ok := numericDate(v)
		if !ok {
			return nil, bad("its nbf claim is not a number of seconds since 1970")
		}
		if now.Add(userTokenLeeway).Before(nbf) {
			return nil, bad("it is not valid before " + nbf.UTC().Format(time.RFC3339))
		}
	}
	return &c, nil
}

// numericDate reads a JWT NumericDate: a JSON number of seconds since
// 1970, maybe with a fraction (a string is refused).
func numericDate(v json.RawMessage) (time.Time, bool) {
	var f float64
	if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) || json.Unmarshal(v, &f) != nil ||
		math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

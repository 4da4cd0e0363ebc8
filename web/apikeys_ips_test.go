package web_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
	"github.com/flowbot/flowbot/web"
)

// addrs returns n distinct IPv4 addresses.
func addrs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("198.51.100.%d", i+1)
	}
	return out
}

// allowedIPs returns a key document's allowed_ips.
func allowedIPs(t *testing.T, m map[string]any) []string {
	t.Helper()
	raw, ok := m["allowed_ips"].([]any)
	if !ok {
		t.Fatalf("allowed_ips is %#v, want an array", m["allowed_ips"])
	}
	out := make([]string, len(raw))
	for i, v := range raw {
		out[i] = v.(string)
	}
	return out
}

// problemMessage returns the message of the detail at pointer.
func problemMessage(t *testing.T, r resp, pointer string) string {
	t.Helper()
	var b web.ErrorBody
	r.json(t, &b)
	for _, d := range b.Error.Details {
		if d.Pointer == pointer {
			return d.Message
		}
	}
	t.Fatalf("no detail at %s: %s", pointer, r.Body)
	return ""
}

// TestAPIKeys_AllowedIPsRules: what POST /v1/api-keys accepts as
// allowed_ips, the canonical form it answers and keeps, and each refusal
// with its code at its entry.
func TestAPIKeys_AllowedIPsRules(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name string
		ips  any      // the allowed_ips sent; absent when nil
		want []string // answered (201)
		// For a refusal: the status, and the code at each pointer.
		code    int
		details map[string]string
		// hint is in the message of the first detail.
		hint string
	}{
		{name: "OKAbsent", want: []string{}},
		{name: "OKEmpty", ips: []string{}, want: []string{}},
		{name: "OKNull", ips: "null", want: []string{}},
		{name: "OKIPv4", ips: []string{"203.0.113.7"}, want: []string{"203.0.113.7"}},
		{name: "OKIPv4Slash32IsTheAddress", ips: []string{"203.0.113.7/32"}, want: []string{"203.0.113.7"}},
		{name: "OKRanges", ips: []string{"198.51.100.0/24", "10.0.0.0/8", "0.0.0.0/0"}, want: []string{"198.51.100.0/24", "10.0.0.0/8", "0.0.0.0/0"}},
		{name: "OKIPv6LowerCaseCompressed", ips: []string{"2001:DB8::/32", "2001:db8:0:0:0:0:0:1", "2001:db8::2/128", "::/0"},
			want: []string{"2001:db8::/32", "2001:db8::1", "2001:db8::2", "::/0"}},
		{name: "OKMappedIPv4AddressIsIPv4", ips: []string{"::ffff:203.0.113.7"}, want: []string{"203.0.113.7"}},
		{name: "OKMappedIPv4RangeIsIPv4", ips: []string{"::ffff:198.51.100.0/120", "::ffff:0.0.0.0/96"}, want: []string{"198.51.100.0/24", "0.0.0.0/0"}},
		{name: "OK20Entries", ips: addrs(20), want: addrs(20)},

		{name: "ErrTooMany21", ips: addrs(21), code: 422, details: map[string]string{"/allowed_ips": "too_many_ips"}, hint: "at most 20"},
		{name: "ErrInvalidIP", ips: []string{"203.0.113.7", "198.51.100.0/24", "not-an-ip"}, code: 422,
			details: map[string]string{"/allowed_ips/2": "invalid_ip"}, hint: `"not-an-ip"`},
		{name: "ErrInvalidIPEmpty", ips: []string{""}, code: 422, details: map[string]string{"/allowed_ips/0": "invalid_ip"}},
		{name: "ErrInvalidIPHostName", ips: []string{"office.example.com"}, code: 422, details: map[string]string{"/allowed_ips/0": "invalid_ip"}},
		{name: "ErrInvalidIPSpaces", ips: []string{" 203.0.113.7"}, code: 422, details: map[string]string{"/allowed_ips/0": "invalid_ip"}},
		{name: "ErrInvalidIPLeadingZero", ips: []string{"203.0.113.07"}, code: 422, details: map[string]string{"/allowed_ips/0": "invalid_ip"}},
		{name: "ErrInvalidIPBitsTooMany", ips: []string{"10.0.0.0/33"}, code: 422, details: map[string]string{"/allowed_ips/0": "invalid_ip"}},
		{name: "ErrInvalidIPv6Bits", ips: []string{"2001:db8::/129"}, code: 422, details: map[string]string{"/allowed_ips/0": "invalid_ip"}},
		{name: "ErrInvalidIPZone", ips: []string{"fe80::1%eth0"}, code: 422, details: map[string]string{"/allowed_ips/0": "invalid_ip"}, hint: "write fe80::1"},
		{name: "ErrHostBitsSet", ips: []string{"10.0.0.1/8"}, code: 422, details: map[string]string{"/allowed_ips/0": "host_bits_set"}, hint: "10.0.0.0/8"},
		{name: "ErrHostBitsSetIPv6", ips: []string{"2001:db8::1/32"}, code: 422, details: map[string]string{"/allowed_ips/0": "host_bits_set"}, hint: "2001:db8::/32"},
		// Normalised first, so the suggestion is IPv4 too.
		{name: "ErrHostBitsSetMapped", ips: []string{"::ffff:198.51.100.1/120"}, code: 422, details: map[string]string{"/allowed_ips/0": "host_bits_set"}, hint: "198.51.100.0/24"},
		{name: "ErrDuplicate", ips: []string{"203.0.113.7", "198.51.100.0/24", "203.0.113.7"}, code: 422,
			details: map[string]string{"/allowed_ips/2": "duplicate_ip"}, hint: "/allowed_ips/0"},
		{name: "ErrDuplicateOnceCanonical", ips: []string{"203.0.113.7", "203.0.113.7/32", "::ffff:203.0.113.7", "2001:DB8::1", "2001:db8::1"}, code: 422,
			details: map[string]string{"/allowed_ips/1": "duplicate_ip", "/allowed_ips/2": "duplicate_ip", "/allowed_ips/4": "duplicate_ip"}},
		{name: "ErrEveryProblemNamed", ips: []string{"x", "10.0.0.1/8", "203.0.113.7", "203.0.113.7"}, code: 422,
			details: map[string]string{"/allowed_ips/0": "invalid_ip", "/allowed_ips/1": "host_bits_set", "/allowed_ips/3": "duplicate_ip"}},
		{name: "ErrNotAnArray", ips: `"203.0.113.7"`, code: 400, details: map[string]string{"/allowed_ips": "wrong_type"}},
		{name: "ErrEntryNotAString", ips: `[7]`, code: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			body := `{"name":"ci","role":"designer"`
			switch v := tc.ips.(type) {
			case nil:
			case string:
				body += `,"allowed_ips":` + v
			case []string:
				body += `,"allowed_ips":["` + strings.Join(v, `","`) + `"]`
				if len(v) == 0 {
					body = `{"name":"ci","role":"designer","allowed_ips":[]`
				}
			}
			body += "}"
			r := e.do("POST", "/v1/api-keys", adminToken, body)
			if tc.code == 0 {
				if r.Code != 201 {
					t.Fatalf("%d %s", r.Code, r.Body)
				}
				m := r.m(t)
				if got := allowedIPs(t, m); !slices.Equal(got, tc.want) {
					t.Fatalf("allowed_ips %q, want %q", got, tc.want)
				}
				// Kept as answered.
				var list struct{ Items []map[string]any }
				e.do("GET", "/v1/api-keys", adminToken, nil).json(t, &list)
				for _, k := range list.Items {
					if k["id"] == m["id"] {
						if got := allowedIPs(t, k); !slices.Equal(got, tc.want) {
							t.Fatalf("listed allowed_ips %q, want %q", got, tc.want)
						}
						return
					}
				}
				t.Fatalf("key %v not listed", m["id"])
			}
			if r.Code != tc.code {
				t.Fatalf("got %d, want %d: %s", r.Code, tc.code, r.Body)
			}
			if tc.details != nil {
				if got := details(t, r); !mapsEqual(got, tc.details) {
					t.Fatalf("details %v, want %v: %s", got, tc.details, r.Body)
				}
			}
			if tc.hint != "" {
				var first string
				for p := range tc.details {
					first = p
				}
				if msg := problemMessage(t, r, first); !strings.Contains(msg, tc.hint) || !strings.HasPrefix(msg, first) {
					t.Fatalf("message %q: want it to start with %s and name %s", msg, first, tc.hint)
				}
			}
		})
	}
	t.Run("ErrNothingStored", func(t *testing.T) {
		e := e.with(t)
		keys, err := e.db.APIKeys(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		e.do("POST", "/v1/api-keys", adminToken, map[string]any{"name": "refused", "role": "designer", "allowed_ips": []string{"10.0.0.1/8"}})
		after, err := e.db.APIKeys(context.Background())
		if err != nil || len(after) != len(keys) {
			t.Fatalf("%d keys before, %d after a refused create (%v)", len(keys), len(after), err)
		}
	})
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// restrictedKey creates a designer key that may be used only from
// 203.0.113.0/24 and 2001:db8::/32.
func restrictedKey(e *env) (id, token string) {
	return e.createKey(map[string]any{"name": "office", "role": "designer", "allowed_ips": []string{"203.0.113.0/24", "2001:db8::/32"}})
}

// wantAddressRefused checks a refusal of an API key for its address: 403
// address_not_allowed naming addr, and not one of the allowed ranges.
func wantAddressRefused(t *testing.T, r resp, addr string) {
	t.Helper()
	if r.Code != 403 || r.errCode(t) != "address_not_allowed" {
		t.Fatalf("got %d %s, want 403 address_not_allowed", r.Code, r.Body)
	}
	var b web.ErrorBody
	r.json(t, &b)
	msg := b.Error.Message
	if !strings.Contains(msg, "API key") || !strings.Contains(msg, "not") || !strings.Contains(msg, " "+addr+";") {
		t.Fatalf("message %q does not say the key may not be used from %s", msg, addr)
	}
	for _, allowed := range []string{"203.0.113", "2001:db8:", "/24", "/32"} {
		if strings.Contains(string(r.Body), allowed) {
			t.Fatalf("the refusal gives away the allowed list (%s): %s", allowed, r.Body)
		}
	}
}

// TestAPIKeys_AllowedIPsAuth: a key with allowed_ips works from an
// address in them, IPv4 or IPv6, and an IPv4 client seen as IPv4-mapped
// IPv6 matches its IPv4 range; from any other address it is refused on
// every route, the refusal is logged and the key not marked as used.
func TestAPIKeys_AllowedIPsAuth(t *testing.T) {
	clk := newTestClock()
	logs := &syncBuffer{}
	e := newEnv(t, withClock(clk), withLogs(logs))
	id, tok := restrictedKey(e)
	_, anyTok := e.createKey(map[string]any{"name": "anywhere", "role": "designer"})

	for _, tc := range []struct {
		name, remote string
		refused      string // the address named, when refused
	}{
		{"OKIPv4InRange", "203.0.113.7:5000", ""},
		{"OKIPv4RangeEdge", "203.0.113.255:5000", ""},
		{"OKIPv6InRange", "[2001:db8:1::5]:5000", ""},
		{"OKIPv4MappedIPv6", "[::ffff:203.0.113.7]:5000", ""},
		{"ErrIPv4Outside", "198.51.100.9:5000", "198.51.100.9"},
		{"ErrIPv4NextToRange", "203.0.114.0:5000", "203.0.114.0"},
		{"ErrIPv6Outside", "[2001:db9::5]:5000", "2001:db9::5"},
		{"ErrIPv4MappedIPv6Outside", "[::ffff:198.51.100.9]:5000", "198.51.100.9"},
		{"ErrLoopback", "127.0.0.1:5000", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			for _, path := range []string{"/v1/me", "/v1/bots"} {
				r := e.doFrom(tc.remote, "GET", path, tok, nil)
				if tc.refused == "" {
					if r.Code != 200 {
						t.Fatalf("%s: %d %s", path, r.Code, r.Body)
					}
					continue
				}
				wantAddressRefused(t, r, tc.refused)
			}
			// A key without allowed_ips works from the same address.
			if r := e.doFrom(tc.remote, "GET", "/v1/me", anyTok, nil); r.Code != 200 {
				t.Fatalf("unrestricted key: %d %s", r.Code, r.Body)
			}
		})
	}

	t.Run("OKBootstrapTokenHasNoRestriction", func(t *testing.T) {
		if r := e.with(t).doFrom("198.51.100.9:5000", "GET", "/v1/me", adminToken, nil); r.Code != 200 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	})

	t.Run("ErrRefusalLogged", func(t *testing.T) {
		var line string
		for l := range strings.Lines(string(logs.Bytes())) {
			if strings.Contains(l, "not allowed from") && strings.Contains(l, `"remote":"198.51.100.9"`) {
				line = l
			}
		}
		if line == "" || !strings.Contains(line, `"key_id":"`+id+`"`) || !strings.Contains(line, `"level":"WARN"`) {
			t.Fatalf("no warning naming the key and the address in the logs:\n%s", logs.Bytes())
		}
		if strings.Contains(line, tok) || strings.Contains(line, tok[8:]) {
			t.Fatalf("the log shows the token: %s", line)
		}
	})

	t.Run("ErrRefusalNotAudited", func(t *testing.T) {
		events, raw := e.with(t).auditLog()
		for _, ev := range events {
			if ev.Action != "api_key.created" {
				t.Fatalf("refusals wrote audit events: %s", raw)
			}
		}
	})

	t.Run("ErrRefusalIsNotAUse", func(t *testing.T) {
		e := e.with(t)
		clk.Add(time.Hour)
		kid, ktok := restrictedKey(e)
		lastUsed := func() any {
			var list struct{ Items []map[string]any }
			e.do("GET", "/v1/api-keys", adminToken, nil).json(t, &list)
			for _, k := range list.Items {
				if k["id"] == kid {
					return k["last_used_at"]
				}
			}
			t.Fatalf("key %s not listed", kid)
			return nil
		}
		wantAddressRefused(t, e.doFrom("198.51.100.9:5000", "GET", "/v1/bots", ktok, nil), "198.51.100.9")
		if got := lastUsed(); got != nil {
			t.Fatalf("a refused request set last_used_at %v", got)
		}
		clk.Add(2 * time.Minute)
		if r := e.doFrom("203.0.113.7:5000", "GET", "/v1/bots", ktok, nil); r.Code != 200 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		if got := lastUsed(); got != clk.Now().Format(time.RFC3339) {
			t.Fatalf("last_used_at %v after an allowed use at %v", got, clk.Now())
		}
	})

	// An expired key is unknown to everyone, wherever they are: the
	// address refusal would tell that the token had been a key.
	t.Run("ErrExpiredBeforeAddress", func(t *testing.T) {
		e := e.with(t)
		_, etok := e.createKey(map[string]any{"name": "short", "role": "designer",
			"expires_at": clk.Now().Add(time.Hour).Format(time.RFC3339), "allowed_ips": []string{"203.0.113.0/24"}})
		clk.Add(2 * time.Hour)
		r := e.doFrom("198.51.100.9:5000", "GET", "/v1/me", etok, nil)
		if r.Code != 401 || strings.Contains(string(r.Body), "198.51.100.9") {
			t.Fatalf("%d %s, want 401 unknown or expired", r.Code, r.Body)
		}
	})

	// The role is checked after the address: a designer key from an
	// allowed address still may not call an admin route.
	t.Run("ErrRoleFromAllowedAddress", func(t *testing.T) {
		r := e.with(t).doFrom("203.0.113.7:5000", "GET", "/v1/api-keys", tok, nil)
		if r.Code != 403 || r.errCode(t) != "forbidden" {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	})
}

// TestAPIKeys_AllowedIPsBehindProxy: the client address checked is the
// one rate limits use. X-Forwarded-For counts only when the TCP peer is a
// trusted proxy; otherwise the peer is the client. (httptest's requests
// come from 192.0.2.1.)
func TestAPIKeys_AllowedIPsBehindProxy(t *testing.T) {
	xff := func(e *env, remote, tok, header string) resp {
		return e.doFrom(remote, "GET", "/v1/me", tok, nil, "X-Forwarded-For", header)
	}
	t.Run("ErrForgedHeaderIgnored", func(t *testing.T) {
		e := newEnv(t)
		_, tok := restrictedKey(e)
		wantAddressRefused(t, xff(e, "", tok, "203.0.113.7"), "192.0.2.1")
		wantAddressRefused(t, xff(e, "198.51.100.9:5000", tok, "203.0.113.7"), "198.51.100.9")
	})
	t.Run("TrustedProxy", func(t *testing.T) {
		e := newEnv(t, func(d *web.Deps, _ *env) {
			d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
		})
		_, tok := restrictedKey(e)
		t.Run("OKForwardedFromAllowed", func(t *testing.T) {
			if r := xff(e.with(t), "192.0.2.1:1234", tok, "203.0.113.7"); r.Code != 200 {
				t.Fatalf("%d %s", r.Code, r.Body)
			}
		})
		t.Run("OKForwardedIPv6", func(t *testing.T) {
			if r := xff(e.with(t), "192.0.2.1:1234", tok, "2001:db8::7"); r.Code != 200 {
				t.Fatalf("%d %s", r.Code, r.Body)
			}
		})
		t.Run("OKForwardedMappedIPv4", func(t *testing.T) {
			if r := xff(e.with(t), "192.0.2.1:1234", tok, "::ffff:203.0.113.7"); r.Code != 200 {
				t.Fatalf("%d %s", r.Code, r.Body)
			}
		})
		t.Run("ErrForwardedFromOther", func(t *testing.T) {
			wantAddressRefused(t, xff(e.with(t), "192.0.2.1:1234", tok, "198.51.100.9"), "198.51.100.9")
		})
		// A client's own X-Forwarded-For comes first; the proxy appends
		// the address it saw, and that one is checked.
		t.Run("ErrClientPrependsAllowed", func(t *testing.T) {
			wantAddressRefused(t, xff(e.with(t), "192.0.2.1:1234", tok, "203.0.113.7, 198.51.100.9"), "198.51.100.9")
		})
		t.Run("ErrPeerNotAProxy", func(t *testing.T) {
			wantAddressRefused(t, xff(e.with(t), "198.51.100.20:5000", tok, "203.0.113.7"), "198.51.100.20")
		})
		t.Run("ErrTheProxyItself", func(t *testing.T) {
			wantAddressRefused(t, e.with(t).doFrom("192.0.2.1:1234", "GET", "/v1/me", tok, nil), "192.0.2.1")
		})
	})
}

// TestAPIKeys_AllowedIPsListed: GET /v1/api-keys shows each key's
// allowed_ips, [] for a key without, including a key stored before keys
// had them (no allowed_ips in its record), which works from anywhere. The
// audit event of a restricted key's creation names its ranges.
func TestAPIKeys_AllowedIPsListed(t *testing.T) {
	e := newEnv(t)
	restricted, _ := e.createKey(map[string]any{"name": "office", "role": "designer", "allowed_ips": []string{"2001:DB8::/32", "::ffff:203.0.113.7"}})
	open, _ := e.createKey(map[string]any{"name": "anywhere", "role": "designer"})
	oldTok := web.NewToken("fbk_")
	old := &flow.APIKey{ID: "old", Name: "old", Role: flow.RoleDesigner, Prefix: oldTok[:10], Hash: web.HashToken(oldTok), CreatedBy: "bootstrap"}
	if err := e.db.CreateAPIKey(context.Background(), old); err != nil {
		t.Fatal(err)
	}

	r := e.do("GET", "/v1/api-keys", adminToken, nil)
	var list struct{ Items []map[string]any }
	r.json(t, &list)
	want := map[string][]string{restricted: {"2001:db8::/32", "203.0.113.7"}, open: {}, "old": {}}
	for _, k := range list.Items {
		id := k["id"].(string)
		if got := allowedIPs(t, k); !slices.Equal(got, want[id]) {
			t.Errorf("key %s: allowed_ips %q, want %q", k["name"], got, want[id])
		}
		delete(want, id)
	}
	if len(want) != 0 {
		t.Fatalf("keys not listed: %v in %s", want, r.Body)
	}
	if r := e.doFrom("198.51.100.9:5000", "GET", "/v1/me", oldTok, nil); r.Code != 200 {
		t.Fatalf("the old key: %d %s", r.Code, r.Body)
	}

	events, raw := e.auditLog()
	if ev := findAudit(events, "api_key.created", restricted); ev == nil || ev.Detail["allowed_ips"] != "2001:db8::/32, 203.0.113.7" {
		t.Fatalf("created event %+v in %s", ev, raw)
	}
	if ev := findAudit(events, "api_key.created", open); ev == nil || ev.Detail["allowed_ips"] != "" {
		t.Fatalf("created event %+v in %s", ev, raw)
	}
}

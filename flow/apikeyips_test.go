package flow_test

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/flowbot/flowbot/flow"
)

// TestParseIPRange: the canonical form of each accepted entry, and the
// code of each refused one.
func TestParseIPRange(t *testing.T) {
	for _, tc := range []struct{ in, want, code string }{
		{in: "203.0.113.7", want: "203.0.113.7"},
		{in: "203.0.113.7/32", want: "203.0.113.7"},
		{in: "198.51.100.0/24", want: "198.51.100.0/24"},
		{in: "0.0.0.0/0", want: "0.0.0.0/0"},
		{in: "2001:DB8:0::1", want: "2001:db8::1"},
		{in: "2001:db8::1/128", want: "2001:db8::1"},
		{in: "2001:db8::/32", want: "2001:db8::/32"},
		{in: "::/0", want: "::/0"},
		{in: "::ffff:203.0.113.7", want: "203.0.113.7"},
		{in: "::ffff:cb00:7107", want: "203.0.113.7"},
		{in: "::ffff:198.51.100.0/120", want: "198.51.100.0/24"},
		{in: "::ffff:0.0.0.0/96", want: "0.0.0.0/0"},
		// Not mapped: an IPv6 range that holds the mapped addresses.
		{in: "::/80", want: "::/80"},
		{in: "", code: "invalid_ip"},
		{in: "203.0.113", code: "invalid_ip"},
		{in: "203.0.113.7/", code: "invalid_ip"},
		{in: "203.0.113.0/24/1", code: "invalid_ip"},
		{in: "fe80::1%eth0", code: "invalid_ip"},
		{in: "fe80::%eth0/64", code: "invalid_ip"},
		{in: "10.0.0.1/8", code: "host_bits_set"},
		{in: "::ffff:198.51.100.1/120", code: "host_bits_set"},
		{in: "::ffff:0:0/80", code: "host_bits_set"},
	} {
		r, err := flow.ParseIPRange(tc.in)
		if tc.code != "" {
			// The code is in the problem ParseAllowedIPs makes.
			_, p := flow.ParseAllowedIPs([]string{tc.in})
			if err == nil || len(p) != 1 || p[0].Code != tc.code || p[0].Pointer != "/allowed_ips/0" {
				t.Errorf("%q: %v, problems %+v; want %s", tc.in, err, p, tc.code)
			}
			continue
		}
		if err != nil || r.String() != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.in, r, err, tc.want)
		}
		// The canonical form reads back as itself.
		if again, err := flow.ParseIPRange(r.String()); err != nil || again != r {
			t.Errorf("%q: canonical %q reads back as %q, %v", tc.in, r, again, err)
		}
	}
}

// TestAPIKeyAllowsAddr: which client addresses a key's ranges let in.
func TestAPIKeyAllowsAddr(t *testing.T) {
	k := &flow.APIKey{AllowedIPs: []flow.IPRange{
		flow.MustParseIPRange("203.0.113.0/24"), flow.MustParseIPRange("2001:db8::/32"), flow.MustParseIPRange("192.0.2.10"),
	}}
	for addr, want := range map[string]bool{
		"203.0.113.0": true, "203.0.113.255": true, "::ffff:203.0.113.9": true,
		"192.0.2.10": true, "::ffff:192.0.2.10": true, "192.0.2.11": false,
		"2001:db8::1": true, "2001:db8:ffff::1": true, "2001:db8::1%eth0": true,
		"203.0.114.0": false, "::ffff:203.0.114.0": false, "2001:db9::1": false,
		// Not the IPv4 address it ends with: only ::ffff: maps.
		"::203.0.113.9": false, "64:ff9b::cb00:7109": false,
	} {
		if got := k.AllowsAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: allowed %t, want %t", addr, got, want)
		}
	}
	for _, open := range []*flow.APIKey{{}, {AllowedIPs: []flow.IPRange{}}} {
		if !open.AllowsAddr(netip.MustParseAddr("198.51.100.1")) {
			t.Errorf("a key with allowed_ips %v refuses an address", open.AllowedIPs)
		}
	}
	// ::/0 is every IPv6 address, and no IPv4 one, mapped or not.
	v6 := &flow.APIKey{AllowedIPs: []flow.IPRange{flow.MustParseIPRange("::/0")}}
	if v6.AllowsAddr(netip.MustParseAddr("203.0.113.9")) || v6.AllowsAddr(netip.MustParseAddr("::ffff:203.0.113.9")) || !v6.AllowsAddr(netip.MustParseAddr("2001:db8::1")) {
		t.Error("::/0 does not mean every IPv6 address only")
	}
}

// TestIPRangeJSON: ranges travel as their canonical text, and text that is
// not one (such as a damaged record) is refused.
func TestIPRangeJSON(t *testing.T) {
	in := []flow.IPRange{flow.MustParseIPRange("::ffff:203.0.113.7"), flow.MustParseIPRange("2001:DB8::/32")}
	b, err := json.Marshal(in)
	if err != nil || string(b) != `["203.0.113.7","2001:db8::/32"]` {
		t.Fatalf("%s, %v", b, err)
	}
	var out []flow.IPRange
	if err := json.Unmarshal(b, &out); err != nil || len(out) != 2 || out[0] != in[0] || out[1] != in[1] {
		t.Fatalf("%v, %v", out, err)
	}
	for _, bad := range []string{`["10.0.0.1/8"]`, `["x"]`, `[7]`} {
		if err := json.Unmarshal([]byte(bad), &out); err == nil {
			t.Errorf("%s read as %v", bad, out)
		}
	}
	if _, err := json.Marshal([]flow.IPRange{{}}); err == nil {
		t.Error("the zero IPRange was written")
	}
}

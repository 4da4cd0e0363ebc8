package web_test

import (
	"slices"
	"testing"

	"github.com/flowbot/flowbot/web"
)

// The start limit counts an IPv6 client by its /64, which a subscriber is
// given whole: a new address in it is the same client. IPv4 addresses
// count one by one, and an IPv4-mapped IPv6 address as its IPv4 address.
func TestRateLimitClientNetwork(t *testing.T) {
	e := newEnv(t, func(d *web.Deps, _ *env) { d.IPRateLimit = web.RateLimit{PerSecond: 0.01, Burst: 1} })
	bot := e.publishBot(echoFlow)
	start := func(remote string) int {
		return e.doFrom(remote, "POST", "/v1/bots/"+bot+"/conversations", "", nil).Code
	}
	got := []int{
		start("[2001:db8:1:2::1]:5000"),
		start("[2001:db8:1:2:ffff:ffff:ffff:fffe]:5001"), // same /64
		start("[2001:db8:1:3::1]:5000"),                  // the next /64
		start("[fe80::1%eth0]:5000"),
		start("[fe80::2%eth1]:5000"), // same link-local /64
		start("203.0.113.7:5000"),
		start("203.0.113.8:5000"),
		start("[::ffff:203.0.113.7]:5000"), // 203.0.113.7
	}
	if want := []int{201, 429, 201, 201, 429, 201, 201, 429}; !slices.Equal(got, want) {
		t.Fatalf("starts: %v; want %v", got, want)
	}
}

package web

import (
	"math"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/flowbot/flowbot/flow"
	"golang.org/x/time/rate"
)

// RateLimit is a token bucket: PerSecond sustained, Burst at once.
// A zero PerSecond turns the limit off.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// limiters keeps one token bucket per key (client address or conversation)
// and forgets keys idle for longer than idleAfter.
type limiters struct {
	limit RateLimit
	// bucket maps a key to the key of its bucket; nil: the key itself.
	bucket    func(string) string
	mu        sync.Mutex
	m         map[string]*limiterEntry
	lastSweep time.Time
}

type limiterEntry struct {
	l    *rate.Limiter
	seen time.Time
}

const idleAfter = 10 * time.Minute

func newLimiters(l RateLimit, bucket func(string) string) *limiters {
	return &limiters{limit: l, bucket: bucket, m: map[string]*limiterEntry{}}
}

// addressBucket is the bucket of a client address: an IPv4 address (an
// IPv4-mapped IPv6 one too) on its own, an IPv6 address by its /64. A
// subscriber is given a whole /64 (often more), and a bucket per address
// would give them 2^64 buckets. A key that is not an address is its own.
func addressBucket(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	if a = a.Unmap(); a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return addr
	}
	return p.String()
}

// allow takes a token for key, or returns a 429 error saying when to retry.
func (ls *limiters) allow(key string, now time.Time, what string) error {
	if ls == nil || ls.limit.PerSecond <= 0 {
		return nil
	}
	if ls.bucket != nil {
		key = ls.bucket(key)
	}
	ls.mu.Lock()
	if now.Sub(ls.lastSweep) > idleAfter {
		for k, e := range ls.m {
			if now.Sub(e.seen) > idleAfter {
				delete(ls.m, k)
			}
		}
		ls.lastSweep = now
	}
	e := ls.m[key]
	if e == nil {
		e = &limiterEntry{l: rate.NewLimiter(rate.Limit(ls.limit.PerSecond), max(ls.limit.Burst, 1))}
		ls.m[key] = e
	}
	e.seen = now
	r := e.l.ReserveN(now, 1)
	ls.mu.Unlock()
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		secs := int(math.Ceil(d.Seconds()))
		return &flow.Error{Code: flow.ERATELIMITED, Message: "too many requests " + what + "; retry in " + strconv.Itoa(secs) + " s"}
	}
	return nil
}

package connections

import (
	"crypto/tls"
	"testing"
)

// TestGuardedTransportSettings reads the unexported fasthttp client, so it
// stays in package connections; the other guard tests are in
// connections_test.
func TestGuardedTransportSettings(t *testing.T) {
	tr := NewGuardedTransport(false)
	c := tr.fast()
	if c.MaxConnsPerHost < 64 || c.MaxConnWaitTimeout == 0 || c.MaxIdleConnDuration == 0 ||
		!c.DisablePathNormalizing || !c.StreamResponseBody || c.RetryIfErr == nil ||
		c.ReadBufferSize != MaxResponseHeaderBytes || tr.TLSClientConfig.MinVersion < tls.VersionTLS12 {
		t.Fatalf("transport settings: %+v", c)
	}
}

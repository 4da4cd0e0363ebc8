package connections

// TokenMargin is tokenMargin for the tests in package connections_test,
// which check that a token is refreshed exactly that long before it expires.
const TokenMargin = tokenMargin

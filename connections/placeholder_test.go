package connections

import "testing"

func TestValidateCredentials_RefusesTheMaskAsASecret(t *testing.T) {
	for _, tc := range []struct {
		typ, field string
		c          Credentials
	}{
		{TypeBearer, "/credentials/token", Credentials{Token: Redacted}},
		{TypeAPIKey, "/credentials/value", Credentials{Header: "X-Key", Value: Redacted}},
		{TypeBasic, "/credentials/password", Credentials{Username: "u", Password: Redacted}},
		{TypeOAuth2CC, "/credentials/client_secret", Credentials{TokenURL: "https://auth.example.com/token", ClientID: "id", ClientSecret: Redacted}},
	} {
		t.Run("Err"+tc.typ, func(t *testing.T) {
			ps := ValidateCredentials(tc.typ, tc.c)
			found := false
			for _, p := range ps {
				found = found || (p.Pointer == tc.field && p.Code == "redacted_placeholder")
			}
			if !found {
				t.Fatalf("problems: %+v", ps)
			}
		})
	}
	t.Run("OKMaskLikeButLonger", func(t *testing.T) {
		if ps := ValidateCredentials(TypeBearer, Credentials{Token: "******"}); ps.HasErrors() {
			t.Fatalf("%+v", ps)
		}
	})
}

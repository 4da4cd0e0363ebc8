package connections_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
)

// canary is a secret whose bytes must never show up anywhere but in the
// request it authenticates.
const canary = "CANARY-5ecr3t-7f3a91c0"

func TestSecretCanary(t *testing.T) {
	ctx := context.Background()
	s, st, _ := newTestService(t)
	reqs := []connections.NewConnection{
		{Name: "c_api_key", Type: connections.TypeAPIKey, AllowedDomain: "api.example.com", Credentials: connections.Credentials{Header: "X-Key", Value: canary}},
		{Name: "c_bearer", Type: connections.TypeBearer, AllowedDomain: "api.example.com", Credentials: connections.Credentials{Token: canary}},
		{Name: "c_basic", Type: connections.TypeBasic, AllowedDomain: "api.example.com", Credentials: connections.Credentials{Username: "u", Password: canary}},
		{Name: "c_oauth", Type: connections.TypeOAuth2CC, AllowedDomain: "api.example.com", Credentials: connections.Credentials{TokenURL: "https://127.0.0.1:1/t", ClientID: "id", ClientSecret: canary}},
	}
	var texts []string // everything that may be shown or logged
	var blobs [][]byte // everything stored
	note := func(err error) {
		if err != nil {
			texts = append(texts, err.Error(), fmt.Sprintf("%+v", err))
		}
	}
	for _, req := range reqs {
		c := mustCreate(t, s, req)
		stored, err := st.Connection(ctx, req.Name)
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, c.Sealed, stored.Sealed)
		for _, v := range []any{c, connections.NewView(c, time.Now()), c.Public} {
			b, _ := json.Marshal(v)
			texts = append(texts, string(b), fmt.Sprintf("%+v", v))
		}

		// Refused uses of the credential.
		r, _ := http.NewRequest(http.MethodGet, "https://evil.test/", nil)
		note(s.Authorize(ctx, r, req.Name))
		r, _ = http.NewRequest(http.MethodGet, "http://api.example.com/", nil)
		note(s.Authorize(ctx, r, req.Name))
		bad := req.Credentials
		bad.Token, bad.Value, bad.Password, bad.ClientSecret = canary+"\r\n", canary+"\r\n", canary+"\x00", canary+"\n"
		_, err = s.Rotate(ctx, req.Name, bad)
		note(err)
		if fe := asFlowError(err); fe != nil {
			for _, p := range fe.Details {
				texts = append(texts, p.Message)
			}
		}
		dup := req
		dup.Name = "x"
		_, err = s.Create(ctx, "admin", dup)
		note(err)
		if fe := asFlowError(err); fe != nil {
			for _, p := range fe.Details {
				texts = append(texts, p.Message)
			}
		}

		// A successful use, shown redacted.
		r, _ = http.NewRequest(http.MethodGet, "https://api.example.com/", nil)
		if req.Type != connections.TypeOAuth2CC {
			if err := s.Authorize(ctx, r, req.Name); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(fmt.Sprint(r.Header), canary) && !strings.Contains(fmt.Sprint(r.Header), base64.StdEncoding.EncodeToString([]byte("u:"+canary))) {
				t.Fatalf("%s: the credential was not applied: %v", req.Name, r.Header)
			}
			texts = append(texts, fmt.Sprint(connections.RedactHeaders(r.Header, c)))
		} else {
			// The token endpoint is unreachable (blocked loopback).
			s.Client = connections.NewGuardedClient(false)
			note(s.Authorize(ctx, r, req.Name))
		}
	}
	// A wrong key.
	wrong := &connections.Service{Store: st, Keyring: mustKeyring(t, 1, 42)}
	for _, req := range reqs {
		_, _, err := wrong.Credentials(ctx, req.Name)
		if err == nil {
			t.Fatal("a wrong key opened the credentials")
		}
		note(err)
	}
	note(connections.CheckKey(ctx, st, wrong.Keyring))
	// Every file of the store on disk: the bbolt file and its journal.
	err := filepath.WalkDir(filepath.Dir(st.Path()), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		blobs = append(blobs, b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	b64 := base64.StdEncoding.EncodeToString([]byte(canary))
	for _, txt := range texts {
		if strings.Contains(txt, canary) || strings.Contains(txt, b64) || strings.Contains(txt, "5ecr3t") {
			t.Errorf("secret shown in %q", txt)
		}
	}
	for _, b := range blobs {
		if bytes.Contains(b, []byte(canary)) || bytes.Contains(b, []byte("5ecr3t")) {
			t.Error("secret stored in clear")
		}
	}
	if len(texts) < 40 {
		t.Fatalf("only %d texts checked", len(texts))
	}
}

func asFlowError(err error) *flow.Error {
	var fe *flow.Error
	errors.As(err, &fe)
	return fe
}

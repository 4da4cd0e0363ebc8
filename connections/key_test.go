package connections_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
	"github.com/flowbot/flowbot/store"
)

func TestKeyringSealOpen(t *testing.T) {
	kr := mustKeyring(t, 1, 1)
	pt := []byte("hello secret")
	a, err := kr.Seal("id-1", pt)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := kr.Seal("id-1", pt)
	t.Run("OK", func(t *testing.T) {
		got, err := kr.Open("id-1", a)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Open = %q, %v", got, err)
		}
	})
	t.Run("Layout", func(t *testing.T) {
		if a[0] != 1 || len(a) != 1+12+len(pt)+16 {
			t.Fatalf("sealed = version %d, %d bytes", a[0], len(a))
		}
		if bytes.Equal(a[1:13], b[1:13]) {
			t.Fatal("two seals share a nonce")
		}
	})
	t.Run("ErrOtherID", func(t *testing.T) {
		if _, err := kr.Open("id-2", a); !errors.Is(err, connections.ErrUnseal) {
			t.Fatalf("err = %v, want ErrUnseal", err)
		}
	})
	t.Run("ErrTampered", func(t *testing.T) {
		c := bytes.Clone(a)
		c[len(c)-1] ^= 1
		if _, err := kr.Open("id-1", c); !errors.Is(err, connections.ErrUnseal) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrOtherKey", func(t *testing.T) {
		if _, err := mustKeyring(t, 1, 2).Open("id-1", a); !errors.Is(err, connections.ErrUnseal) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrUnknownVersion", func(t *testing.T) {
		_, err := mustKeyring(t, 2, 1).Open("id-1", a)
		if !errors.Is(err, connections.ErrUnseal) || !strings.Contains(err.Error(), "version 1") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrShort", func(t *testing.T) {
		if _, err := kr.Open("id-1", a[:5]); !errors.Is(err, connections.ErrUnseal) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("Rotation", func(t *testing.T) {
		kr2 := mustKeyring(t, 2, 9)
		if err := kr2.Add(1, testKey(1)); err != nil {
			t.Fatal(err)
		}
		if got, err := kr2.Open("id-1", a); err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("old value: %q, %v", got, err)
		}
		n, _ := kr2.Seal("id-1", pt)
		if n[0] != 2 {
			t.Fatalf("new value sealed with version %d", n[0])
		}
		if err := kr2.Add(2, testKey(3)); err == nil {
			t.Fatal("Add of an existing version: no error")
		}
	})
	t.Run("ErrKeySize", func(t *testing.T) {
		if _, err := connections.NewKeyring(1, make([]byte, 16)); err == nil {
			t.Fatal("16-byte key accepted")
		}
	})
}

func TestLoadKey(t *testing.T) {
	key := testKey(5)
	env := base64.StdEncoding.EncodeToString(key)
	sealWith := func(t *testing.T, kr *connections.Keyring) []byte {
		v, err := kr.Seal("x", []byte("p"))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	t.Run("EnvOK", func(t *testing.T) {
		dir := t.TempDir()
		kr, gen, err := connections.LoadKey(dir, env)
		if err != nil || gen {
			t.Fatalf("LoadKey = %v, %v", gen, err)
		}
		if _, err := mustKeyring(t, connections.DefaultKeyVersion, 5).Open("x", sealWith(t, kr)); err != nil {
			t.Fatal("env key not used:", err)
		}
		if _, err := os.Stat(filepath.Join(dir, connections.KeyFileName)); !os.IsNotExist(err) {
			t.Fatal("a key file was written although FLOWBOT_SECRET_KEY is set")
		}
	})
	for name, tc := range map[string]struct{ env, want string }{
		"ErrEnvNotBase64": {"not base64!!", "not valid standard base64"},
		"ErrEnvShort":     {base64.StdEncoding.EncodeToString(make([]byte, 16)), "must be 32 bytes"},
		"ErrEnvLong":      {base64.StdEncoding.EncodeToString(make([]byte, 33)), "must be 32 bytes"},
		"ErrEnvURLBase64": {base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), "base64"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := connections.LoadKey(t.TempDir(), tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "FLOWBOT_SECRET_KEY") {
				t.Fatalf("err = %v, want it to name FLOWBOT_SECRET_KEY and say %q", err, tc.want)
			}
		})
	}
	t.Run("GeneratedThenReused", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		kr, gen, err := connections.LoadKey(dir, "")
		if err != nil || !gen {
			t.Fatalf("first LoadKey = %v, %v", gen, err)
		}
		path := filepath.Join(dir, connections.KeyFileName)
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("key file mode %o", st.Mode().Perm())
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Fatalf("data folder holds %d files, want only the key file", len(entries))
		}
		v := sealWith(t, kr)
		kr2, gen2, err := connections.LoadKey(dir, "")
		if err != nil || gen2 {
			t.Fatalf("second LoadKey = %v, %v", gen2, err)
		}
		if _, err := kr2.Open("x", v); err != nil {
			t.Fatal("second load gave another key:", err)
		}
		b, _ := os.ReadFile(path)
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) != connections.KeySize {
			t.Fatalf("key file is not base64 of 32 bytes: %v", err)
		}
	})
	t.Run("ErrLooseMode", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, connections.KeyFileName)
		if err := os.WriteFile(path, []byte(env), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chmod(path, 0o644)
		_, _, err := connections.LoadKey(dir, "")
		if err == nil || !strings.Contains(err.Error(), "0644") || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("err = %v", err)
		}
		b, _ := os.ReadFile(path)
		if string(b) != env {
			t.Fatal("the key file was changed")
		}
	})
	t.Run("OKTighterMode", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, connections.KeyFileName)
		os.WriteFile(path, []byte(env+"\n"), 0o400)
		if _, gen, err := connections.LoadKey(dir, ""); err != nil || gen {
			t.Fatalf("LoadKey = %v, %v", gen, err)
		}
	})
	t.Run("ErrBadFile", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, connections.KeyFileName), []byte("short"), 0o600)
		_, _, err := connections.LoadKey(dir, "")
		if err == nil || !strings.Contains(err.Error(), connections.KeyFileName) {
			t.Fatalf("err = %v", err)
		}
	})
}

// storedKeyCheck returns the key check value in st, or nil when none is
// stored.
func storedKeyCheck(t *testing.T, st *store.DB) []byte {
	t.Helper()
	v, err := st.KeyCheck(context.Background())
	if flow.ErrorCode(err) == flow.ENOTFOUND {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCheckKey(t *testing.T) {
	ctx := context.Background()
	t.Run("FirstStoresThenOK", func(t *testing.T) {
		st := mustOpenStore(t)
		kr := mustKeyring(t, 1, 1)
		if err := connections.CheckKey(ctx, st, kr); err != nil {
			t.Fatal(err)
		}
		if storedKeyCheck(t, st) == nil {
			t.Fatal("no check value stored")
		}
		if err := connections.CheckKey(ctx, st, kr); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrWrongKey", func(t *testing.T) {
		st := mustOpenStore(t)
		if err := connections.CheckKey(ctx, st, mustKeyring(t, 1, 1)); err != nil {
			t.Fatal(err)
		}
		before := storedKeyCheck(t, st)
		err := connections.CheckKey(ctx, st, mustKeyring(t, 1, 2))
		if !errors.Is(err, connections.ErrKeyMismatch) {
			t.Fatalf("err = %v, want ErrKeyMismatch", err)
		}
		for _, want := range []string{"does not match", "FLOWBOT_SECRET_KEY", "secret.key", "nothing was changed"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message %q does not say %q", err, want)
			}
		}
		if !bytes.Equal(storedKeyCheck(t, st), before) {
			t.Fatal("the check value was changed")
		}
	})
	t.Run("ErrConnectionsWithoutCheck", func(t *testing.T) {
		s, st, _ := newTestService(t)
		mustCreate(t, s, connections.NewConnection{Name: "shop", Type: connections.TypeBearer, AllowedDomain: "example.com", Credentials: connections.Credentials{Token: "t"}})
		if err := connections.CheckKey(ctx, st, mustKeyring(t, 1, 2)); !errors.Is(err, connections.ErrKeyMismatch) {
			t.Fatalf("err = %v", err)
		}
		if storedKeyCheck(t, st) != nil {
			t.Fatal("a check value was stored for the wrong key")
		}
		if err := connections.CheckKey(ctx, st, s.Keyring); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("RotatedKeyReseals", func(t *testing.T) {
		st := mustOpenStore(t)
		if err := connections.CheckKey(ctx, st, mustKeyring(t, 1, 1)); err != nil {
			t.Fatal(err)
		}
		kr2 := mustKeyring(t, 2, 2)
		if err := kr2.Add(1, testKey(1)); err != nil {
			t.Fatal(err)
		}
		if err := connections.CheckKey(ctx, st, kr2); err != nil {
			t.Fatal(err)
		}
		v := storedKeyCheck(t, st)
		if len(v) == 0 {
			t.Fatal("no check value stored")
		}
		if v[0] != 2 {
			t.Fatalf("check value still sealed with version %d", v[0])
		}
		if err := connections.CheckKey(ctx, st, mustKeyring(t, 2, 2)); err != nil {
			t.Fatal("new key alone:", err)
		}
	})
}

package connections

import (
	"bytes"
	"testing"
)

// Subkeys differ by purpose and from the key itself, are the same for the
// same key and purpose, and change with the key.
func TestKeyringSubkey(t *testing.T) {
	key := bytes.Repeat([]byte{7}, KeySize)
	a, err := NewKeyring(1, key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewKeyring(1, bytes.Clone(key))
	other, _ := NewKeyring(1, bytes.Repeat([]byte{8}, KeySize))
	s := a.Subkey("conversation start tokens")
	switch {
	case len(s) != 32:
		t.Fatalf("subkey has %d bytes", len(s))
	case !bytes.Equal(s, b.Subkey("conversation start tokens")):
		t.Fatal("the same key and purpose gave two subkeys")
	case bytes.Equal(s, a.Subkey("another purpose")):
		t.Fatal("two purposes share a subkey")
	case bytes.Equal(s, key) || bytes.Equal(s, other.Subkey("conversation start tokens")):
		t.Fatal("the subkey is the key, or does not change with it")
	}
}

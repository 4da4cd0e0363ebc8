package connections

import (
	"crypto/rand"
	"errors"
	"fmt"
)

// A sealed value is laid out as version || nonce || ciphertext: one byte
// naming the key it was sealed with, a random 12-byte GCM nonce, and the
// AES-256-GCM ciphertext with its tag.
const nonceSize = 12

// ErrUnseal is returned (wrapped) when a sealed value cannot be opened: the
// key is wrong, the value was altered, or it was sealed for another ID.
var ErrUnseal = errors.New("sealed value cannot be opened with the secret key")

// Seal encrypts plaintext with the current key. id (the connection's ID) is
// bound to the result as associated data, so a sealed value copied onto
// another connection does not open.
func (k *Keyring) Seal(id string, plaintext []byte) ([]byte, error) {
	aead, ok := k.keys[k.current]
	if !ok {
		return nil, fmt.Errorf("secret key version %d is not in the keyring", k.current)
	}
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plaintext)+aead.Overhead())
	out[0] = k.current
	rand.Read(out[1:])
	return aead.Seal(out, out[1:], plaintext, []byte(id)), nil
}

// Open decrypts a value made by Seal with the same id, using whichever key
// of the ring it names. It returns an error wrapping ErrUnseal when the
// value does not open.
func (k *Keyring) Open(id string, sealed []byte) ([]byte, error) {
	if len(sealed) < 1+nonceSize {
		return nil, fmt.Errorf("%w: value too short", ErrUnseal)
	}
	aead, ok := k.keys[sealed[0]]
	if !ok {
		return nil, fmt.Errorf("%w: it was sealed with key version %d, which is not in the keyring", ErrUnseal, sealed[0])
	}
	pt, err := aead.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], []byte(id))
	if err != nil {
		return nil, fmt.Errorf("%w (key version %d)", ErrUnseal, sealed[0])
	}
	return pt, nil
}

// SealedVersion returns the key version a sealed value names, and false for
// a value too short to be sealed.
func SealedVersion(sealed []byte) (byte, bool) {
	if len(sealed) < 1+nonceSize {
		return 0, false
	}
	return sealed[0], true
}

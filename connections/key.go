package connections

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size in bytes of a secret-encryption key (AES-256).
const KeySize = 32

// KeyFileName is the name of the key file in the data folder.
const KeyFileName = "secret.key"

// DefaultKeyVersion is the version LoadKey gives the key it loads.
const DefaultKeyVersion byte = 1

// Keyring holds the secret-encryption keys by version. New values are sealed
// with the current key; values sealed with any key in the ring can be
// opened, so a key can be rotated: add the new key as current, keep the old
// one, and reseal (Service.Reseal). A Keyring is safe for concurrent use once
// it is built; Add must not be called while it is in use.
type Keyring struct {
	current byte
	keys    map[byte]cipher.AEAD
	// subkeys derives keys for other purposes from the first key (the
	// one NewKeyring got): HMAC-SHA256 keyed with it.
	subkeys []byte
}

// NewKeyring returns a keyring whose current key is key, with the given
// version. key must be KeySize bytes.
func NewKeyring(version byte, key []byte) (*Keyring, error) {
	k := &Keyring{current: version, keys: map[byte]cipher.AEAD{}}
	if err := k.Add(version, key); err != nil {
		return nil, err
	}
	k.subkeys = bytes.Clone(key)
	return k, nil
}

// Subkey returns a 32-byte key for purpose, derived from the current key
// (HMAC-SHA256 of the purpose): another use of the secret never shares the
// encryption key itself, and needs no key of its own in the data folder.
func (k *Keyring) Subkey(purpose string) []byte {
	mac := hmac.New(sha256.New, k.subkeys)
	mac.Write([]byte("flowbot subkey\x00" + purpose))
	return mac.Sum(nil)
}

// Add adds an older key that values may still be sealed with. It does not
// change the current key. It refuses a version already in the ring and a key
// that is not KeySize bytes.
func (k *Keyring) Add(version byte, key []byte) error {
	if len(key) != KeySize {
		return fmt.Errorf("secret key must be %d bytes, got %d", KeySize, len(key))
	}
	if _, ok := k.keys[version]; ok {
		return fmt.Errorf("secret key version %d is already in the keyring", version)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return err
	}
	k.keys[version] = aead
	return nil
}

// Current returns the version of the key new values are sealed with.
func (k *Keyring) Current() byte { return k.current }

// LoadKey returns the keyring holding the secret-encryption key. env is the
// value of FLOWBOT_SECRET_KEY: when set, it must be standard base64 of exactly
// KeySize bytes. When env is empty the key is read from dataDir/secret.key,
// which must not be readable or writable by group or others; when that file
// does not exist a new random key is written to it (mode 0600, atomically)
// and generated is true.
func LoadKey(dataDir string, env string) (kr *Keyring, generated bool, err error) {
	if env != "" {
		key, err := decodeKey(env)
		if err != nil {
			return nil, false, fmt.Errorf("FLOWBOT_SECRET_KEY: %w", err)
		}
		kr, err := NewKeyring(DefaultKeyVersion, key)
		return kr, false, err
	}
	path := filepath.Join(dataDir, KeyFileName)
	key, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, generated, err = generateKeyFile(dataDir, path)
	}
	if err != nil {
		return nil, false, err
	}
	kr, err = NewKeyring(DefaultKeyVersion, key)
	return kr, generated, err
}

func decodeKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("the secret key is not valid standard base64")
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("the secret key must be %d bytes (base64 of 32 random bytes, e.g. `openssl rand -base64 32`), got %d bytes", KeySize, len(key))
	}
	return key, nil
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %04o: it holds the secret-encryption key and must be readable only by its owner (chmod 600 %s)", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	key, err := decodeKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// generateKeyFile writes a new random key to path. The key is written to a
// temporary file, synced, then linked into place, so a crash never leaves a
// partial key file, and a key file made meanwhile by another process is never
// replaced (that one is used instead).
func generateKeyFile(dir, path string) ([]byte, bool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	key := make([]byte, KeySize)
	rand.Read(key)
	tmp, err := os.CreateTemp(dir, ".secret.key-*")
	if err != nil {
		return nil, false, err
	}
	defer os.Remove(tmp.Name())
	if err := writeSynced(tmp, []byte(base64.StdEncoding.EncodeToString(key)+"\n")); err != nil {
		return nil, false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			key, err := readKeyFile(path)
			return key, false, err
		}
		// Some file systems have no hard links: fall back to rename.
		if err := os.Rename(tmp.Name(), path); err != nil {
			return nil, false, fmt.Errorf("write %s: %w", path, err)
		}
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return key, true, nil
}

func writeSynced(f *os.File, b []byte) error {
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

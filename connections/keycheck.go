package connections

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/flowbot/flowbot/flow"
)

// ErrKeyMismatch is returned (wrapped) by CheckKey when the secret key is not
// the one the stored data was encrypted with.
var ErrKeyMismatch = errors.New("the secret key does not match the stored data")

// The check value is this text sealed with the key, under its own ID.
const (
	keyCheckID        = "flowbot-key-check"
	keyCheckPlaintext = "flowbot secret key check v1"
)

// CheckKey makes sure kr is the key the store's data was encrypted with, so a
// wrong FLOWBOT_SECRET_KEY or secret.key is caught at start-up rather than on
// the first api_call. The first time, it stores a check value (a known text
// sealed with the current key); afterwards it verifies the check value opens.
// When the check value was sealed with an older key of the ring, it is resealed
// with the current one. On a mismatch it returns an error wrapping
// ErrKeyMismatch and changes nothing; it never makes a new key.
func CheckKey(ctx context.Context, store Store, kr *Keyring) error {
	v, err := store.KeyCheck(ctx)
	if flow.ErrorCode(err) == flow.ENOTFOUND {
		return firstKeyCheck(ctx, store, kr)
	}
	if err != nil {
		return fmt.Errorf("read the secret key check value: %w", err)
	}
	pt, err := kr.Open(keyCheckID, v)
	if err != nil || !bytes.Equal(pt, []byte(keyCheckPlaintext)) {
		return mismatch()
	}
	if v[0] == kr.Current() {
		return nil
	}
	return storeKeyCheck(ctx, store, kr)
}

// firstKeyCheck stores the check value, unless connections already exist
// that the key cannot open (data from before the check value existed, or a
// lost check value): that is a mismatch too.
func firstKeyCheck(ctx context.Context, store Store, kr *Keyring) error {
	cs, err := store.Connections(ctx)
	if err != nil {
		return fmt.Errorf("list connections: %w", err)
	}
	for _, c := range cs {
		if _, err := kr.Open(c.ID, c.Sealed); err != nil {
			return mismatch()
		}
	}
	return storeKeyCheck(ctx, store, kr)
}

func storeKeyCheck(ctx context.Context, store Store, kr *Keyring) error {
	v, err := kr.Seal(keyCheckID, []byte(keyCheckPlaintext))
	if err != nil {
		return err
	}
	if err := store.SetKeyCheck(ctx, v); err != nil {
		return fmt.Errorf("store the secret key check value: %w", err)
	}
	return nil
}

func mismatch() error {
	return fmt.Errorf("%w: the data was encrypted with another key, so FLOWBOT_SECRET_KEY or %s in the data folder is wrong; "+
		"start flowbot with the original key (nothing was changed)", ErrKeyMismatch, KeyFileName)
}

package store

import (
	"context"
	"testing"

	"github.com/flowbot/flowbot/flow"
)

func TestKeyCheck(t *testing.T) {
	ctx := context.Background()

	t.Run("ErrNotFound", func(t *testing.T) {
		v, err := mustOpen(t).KeyCheck(ctx)
		wantCode(t, err, flow.ENOTFOUND, "")
		if v != nil {
			t.Errorf("value = %x, want nil", v)
		}
	})

	t.Run("OK", func(t *testing.T) {
		db := mustOpen(t)
		for _, v := range [][]byte{[]byte("first"), []byte("second")} {
			if err := db.SetKeyCheck(ctx, v); err != nil {
				t.Fatal(err)
			}
			got, err := db.KeyCheck(ctx)
			if err != nil {
				t.Fatal(err)
			}
			mustEqual(t, "key check", got, v)
		}
	})

	t.Run("ErrEmpty", func(t *testing.T) {
		wantCode(t, mustOpen(t).SetKeyCheck(ctx, nil), flow.EINVALID, "")
	})
}

package flow

import (
	"bytes"
	"encoding/json"
)

// SameFlow reports whether two flows have the same JSON form, the form
// they are stored and served in: how a client wrote one (spacing, the
// order of members, an empty list sent or left out) does not count.
func SameFlow(a, b *Flow) (bool, error) {
	ja, err := json.Marshal(a)
	if err != nil {
		return false, err
	}
	jb, err := json.Marshal(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ja, jb), nil
}

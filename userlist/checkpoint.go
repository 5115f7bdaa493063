package userlist

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/authgraph/authgraph/ent/schema/pulid"
)

// checkpoint is the REST API's opaque cursor (from/next): the order it was
// made for, and a position in it.
type checkpoint struct {
	Order string          `json:"o"`
	ID    pulid.ID        `json:"id"`
	Value json.RawMessage `json:"v,omitempty"`
}

// EncodeCheckpoint returns k, a position in o, as an opaque URL-safe token.
func EncodeCheckpoint(k Key, o Order) string {
	c := checkpoint{Order: o.String(), ID: k.ID}
	if k.Value != nil {
		v := k.Value
		if t, ok := v.(time.Time); ok {
			v = t.UTC().Format(time.RFC3339Nano)
		}
		c.Value, _ = json.Marshal(v)
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCheckpoint reads a token of EncodeCheckpoint made for o; ErrBadKey
// for anything else (another sort's checkpoint, a forged or cut token).
func DecodeCheckpoint(token string, o Order) (Key, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return Key{}, ErrBadKey
	}
	var c checkpoint
	if err := json.Unmarshal(b, &c); err != nil || c.Order != o.String() {
		return Key{}, ErrBadKey
	}
	k := Key{ID: c.ID}
	if len(c.Value) > 0 && string(c.Value) != "null" {
		switch o.Column.Kind {
		case KindTime:
			var s string
			if json.Unmarshal(c.Value, &s) != nil {
				return Key{}, ErrBadKey
			}
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return Key{}, ErrBadKey
			}
			k.Value = t
		case KindInt:
			var n int64
			if json.Unmarshal(c.Value, &n) != nil {
				return Key{}, ErrBadKey
			}
			k.Value = n
		case KindString:
			var s string
			if json.Unmarshal(c.Value, &s) != nil {
				return Key{}, ErrBadKey
			}
			k.Value = s
		}
	}
	return o.Normalize(k)
}

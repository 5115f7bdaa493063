// Package pulid implements prefixed ULIDs: "usr_01J…". The prefix names the
// entity type, so the Relay `node(id:)` query resolves a type from the id
// alone (see entgql's todopulid example), and an id pasted into the wrong
// field is recognisably wrong.
package pulid

import (
	"database/sql/driver"
	"fmt"
	"io"
	"strconv"

	"github.com/oklog/ulid/v2"
)

// ID is a prefixed ULID.
type ID string

// PrefixLen is the length every prefix has, separator included. IDToType reads
// exactly this many characters, so every prefix must have it (tested).
const PrefixLen = 4

// MustNew returns a new ID with the given prefix ("usr_"). ulid.Make uses a
// process-wide, mutex-guarded monotonic source: the shared ulid.Monotonic of
// the todopulid example is not safe for concurrent inserts.
func MustNew(prefix string) ID {
	if len(prefix) != PrefixLen {
		panic(fmt.Sprintf("pulid: prefix %q must be %d characters", prefix, PrefixLen))
	}
	return ID(prefix + ulid.Make().String())
}

// Prefix returns the type prefix of id, or "" when it is too short.
func (id ID) Prefix() string {
	if len(id) < PrefixLen {
		return ""
	}
	return string(id[:PrefixLen])
}

// UnmarshalGQL implements graphql.Unmarshaler.
func (id *ID) UnmarshalGQL(v any) error { return id.Scan(v) }

// MarshalGQL implements graphql.Marshaler.
func (id ID) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(id))) }

// Scan implements sql.Scanner.
func (id *ID) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		return nil
	case string:
		*id = ID(v)
	case []byte:
		*id = ID(string(v))
	case ID:
		*id = v
	default:
		return fmt.Errorf("pulid: unexpected type %T", src)
	}
	return nil
}

// Value implements driver.Valuer.
func (id ID) Value() (driver.Value, error) { return string(id), nil }

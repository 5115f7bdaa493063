package passwords

// Temporary stand-in for the imported-hash support (FromAuth0Bcrypt,
// FromAuth0Custom, ImportError) until that work is merged; it is removed
// by the merge.

import (
	"encoding/json"
	"strings"
)

// ImportError is a refused imported hash, with Auth0's row error code.
type ImportError struct{ Code, Message string }

func (e *ImportError) Error() string { return e.Message }

// FromAuth0Bcrypt validates a bcrypt password_hash and returns it as stored.
func FromAuth0Bcrypt(h string) (string, error) {
	if len(h) != 60 || !(strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$") || strings.HasPrefix(h, "$2y$")) {
		return "", &ImportError{Code: "PATTERN", Message: "password_hash must be a bcrypt hash ($2a$, $2b$ or $2y$)"}
	}
	return h, nil
}

// FromAuth0Custom turns a custom_password_hash into its stored form.
func FromAuth0Custom(custom json.RawMessage) (string, error) {
	return "", &ImportError{Code: "INVALID_FORMAT", Message: "custom_password_hash is not supported yet"}
}

package bulkexport

import (
	"encoding/json"
	"strings"
)

// exportHash gives Auth0's import representation of a stored hash.
// TEMPORARY until passwords.Export is merged: bcrypt as password_hash,
// argon2id as custom_password_hash (algorithm argon2, PHC string).
var exportHash = func(stored string) (string, json.RawMessage) {
	switch {
	case strings.HasPrefix(stored, "$2a$"), strings.HasPrefix(stored, "$2b$"), strings.HasPrefix(stored, "$2y$"):
		return stored, nil
	case strings.HasPrefix(stored, "$argon2id$"):
		b, _ := json.Marshal(map[string]any{"algorithm": "argon2", "hash": map[string]any{"value": stored}})
		return "", b
	}
	return "", nil
}

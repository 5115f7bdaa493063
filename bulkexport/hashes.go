package bulkexport

import "github.com/authgraph/authgraph/passwords"

// exportHash gives Auth0's import representation of a stored hash:
// bcrypt as password_hash, argon2id and imported forms as
// custom_password_hash.
var exportHash = passwords.Export

package bulkimport

import (
	"bytes"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/passwords"
)

// RowError is one error of a row, Auth0's {code, message, path}.
type RowError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Path    string `json:"path"`
}

// Auth0's row error codes.
const (
	CodeAnyOfMissing      = "ANY_OF_MISSING"
	CodeAdditionalProps   = "OBJECT_ADDITIONAL_PROPERTIES"
	CodeInvalidType       = "INVALID_TYPE"
	CodeInvalidFormat     = "INVALID_FORMAT"
	CodePattern           = "PATTERN"
	CodeMaxLength         = "MAX_LENGTH"
	CodeConflict          = "CONFLICT"
	CodeConflictEmail     = "CONFLICT_EMAIL"
	CodeConflictUsername  = "CONFLICT_USERNAME"
	CodeDuplicatedUser    = "DUPLICATED_USER"
	CodeMFAFactorsInvalid = "MFA_FACTORS_FAILED"
	// CodeForbidden refuses an upsert of an administrator whose scopes the
	// job's creator does not hold.
	CodeForbidden = "FORBIDDEN"
)

// allowed are the properties of Auth0's bulk-import schema.
var allowed = map[string]bool{
	"email": true, "email_verified": true, "user_id": true, "username": true, "given_name": true,
	"family_name": true, "name": true, "nickname": true, "picture": true, "blocked": true,
	"app_metadata": true, "user_metadata": true, "password_hash": true, "custom_password_hash": true,
	"mfa_factors": true,
}

// row is a validated row, ready to insert or upsert.
type row struct {
	index int
	nu    *identity.NewUser
	// hash is the stored form of the row's password hash (nil: none).
	hash *string
	// has names the properties the row gave (upsert updates only these).
	has map[string]bool
	// emailVerified, blocked and the profile strings as given.
	emailVerified, blocked                         *bool
	name, givenName, familyName, nickname, picture *string
	userMeta, appMeta                              map[string]any
	mfaFactors                                     int
}

// parsed is what validation makes of one row: the row, or its errors.
type parsed struct {
	index  int
	raw    json.RawMessage
	row    *row
	errors []RowError
	// email is the normalized address (for duplicates in the file), "" if
	// the row has none valid.
	email string
}

// validate checks one raw row against Auth0's schema and the connection.
func validate(conn *ent.Connection, index int, raw json.RawMessage) parsed {
	p := parsed{index: index, raw: raw}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		p.errors = []RowError{{Code: CodeInvalidType, Message: "Expected type object but found type " + jsonType(raw), Path: ""}}
		return p
	}
	var errs []RowError
	add := func(code, path, format string, args ...any) {
		errs = append(errs, RowError{Code: code, Message: fmt.Sprintf(format, args...), Path: path})
	}
	var unknown []string
	for k := range m {
		if !allowed[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		add(CodeAdditionalProps, k, "Additional properties not allowed: %s", k)
	}
	str := func(k string) *string {
		v, ok := m[k]
		if !ok {
			return nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			add(CodeInvalidType, k, "Expected type string but found type %s", jsonType(v))
			return nil
		}
		return &s
	}
	boolean := func(k string) *bool {
		v, ok := m[k]
		if !ok {
			return nil
		}
		var b bool
		if err := json.Unmarshal(v, &b); err != nil || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			add(CodeInvalidType, k, "Expected type boolean but found type %s", jsonType(v))
			return nil
		}
		return &b
	}
	object := func(k string) map[string]any {
		v, ok := m[k]
		if !ok {
			return nil
		}
		var o map[string]any
		if err := json.Unmarshal(v, &o); err != nil || o == nil {
			add(CodeInvalidType, k, "Expected type object but found type %s", jsonType(v))
			return nil
		}
		return o
	}
	r := &row{index: index, has: map[string]bool{}}
	for k := range m {
		r.has[k] = true
	}
	email := str("email")
	if _, ok := m["email"]; !ok {
		add(CodeAnyOfMissing, "", "Data does not match any schemas from 'anyOf': email is required")
	}
	r.emailVerified, r.blocked = boolean("email_verified"), boolean("blocked")
	username, userID := str("username"), str("user_id")
	r.name, r.givenName, r.familyName, r.nickname, r.picture =
		str("name"), str("given_name"), str("family_name"), str("nickname"), str("picture")
	r.userMeta, r.appMeta = object("user_metadata"), object("app_metadata")
	if ph := str("password_hash"); ph != nil {
		h, err := passwords.FromAuth0Bcrypt(*ph)
		if err != nil {
			errs = append(errs, hashError(err, "password_hash"))
		} else {
			r.hash = &h
		}
	}
	if c, ok := m["custom_password_hash"]; ok {
		if r.has["password_hash"] {
			add(CodeInvalidFormat, "custom_password_hash", "password_hash and custom_password_hash cannot both be given")
		} else if h, err := passwords.FromAuth0Custom(c); err != nil {
			errs = append(errs, hashError(err, "custom_password_hash"))
		} else {
			r.hash = &h
		}
	}
	if f, ok := m["mfa_factors"]; ok {
		n, ferrs := validateFactors(f)
		errs = append(errs, ferrs...)
		r.mfaFactors = n
	}
	if email != nil {
		if n, err := identity.NormalizeEmail(strings.ToLower(*email)); err == nil {
			p.email = n
		}
	}
	if len(errs) > 0 {
		p.errors = errs
		return p
	}
	in := identity.CreateInput{
		Connection: conn.Name, Email: email, Username: username, EmailVerified: r.emailVerified,
		Name: r.name, GivenName: r.givenName, FamilyName: r.familyName, Nickname: r.nickname, Picture: r.picture,
		Blocked: r.blocked, UserMetadata: r.userMeta, AppMetadata: r.appMeta,
	}
	if userID != nil {
		// Auth0 keeps the id given, under its own provider: auth0|<user_id>.
		id := identity.DatabaseProvider + "|" + *userID
		in.UserID = &id
	}
	nu, err := identity.PrepareIn(conn, in)
	if err != nil {
		p.errors = []RowError{fieldError(err)}
		return p
	}
	r.nu = nu
	p.row = r
	return p
}

// hashError is the row error of a refused password hash: the
// passwords.ImportError's code, path and message (never the hash).
func hashError(err error, path string) RowError {
	var ie *passwords.ImportError
	if errors.As(err, &ie) {
		if ie.Path != "" {
			path = ie.Path
		}
		return RowError{Code: ie.Code, Message: ie.Message, Path: path}
	}
	return RowError{Code: CodeInvalidFormat, Message: "the password hash is not valid", Path: path}
}

// fieldError maps identity's validation of a field to Auth0's code and
// property name.
func fieldError(err error) RowError {
	var ve *identity.ValidationError
	if !errors.As(err, &ve) {
		return RowError{Code: CodeInvalidFormat, Message: err.Error()}
	}
	path := map[string]string{
		"userId": "user_id", "givenName": "given_name", "familyName": "family_name",
		"userMetadata": "user_metadata", "appMetadata": "app_metadata", "phoneNumber": "phone_number",
	}[ve.Field]
	if path == "" {
		path = ve.Field
	}
	code := CodeInvalidFormat
	switch {
	case path == "username" || path == "user_id":
		code = CodePattern
	case strings.Contains(ve.Message, "characters") && path != "picture":
		code = CodeMaxLength
	}
	return RowError{Code: code, Message: ve.Message, Path: path}
}

var e164 = regexp.MustCompile(`^\+[0-9]{1,15}$`)

// validateFactors checks mfa_factors: an array of objects with exactly one
// of totp {secret (base32)}, phone {value (E.164)}, email {value}.
func validateFactors(raw json.RawMessage) (int, []RowError) {
	var fs []map[string]map[string]any
	if err := json.Unmarshal(raw, &fs); err != nil {
		return 0, []RowError{{Code: CodeInvalidType, Message: "mfa_factors must be an array of factor objects", Path: "mfa_factors"}}
	}
	var errs []RowError
	for i, f := range fs {
		path := fmt.Sprintf("mfa_factors/%d", i)
		if len(f) != 1 {
			errs = append(errs, RowError{Code: CodeMFAFactorsInvalid, Message: "a factor has exactly one of totp, phone, email", Path: path})
			continue
		}
		for kind, v := range f {
			s, _ := v["secret"].(string)
			val, _ := v["value"].(string)
			switch kind {
			case "totp":
				if _, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimRight(s, "="))); err != nil || s == "" || len(v) != 1 {
					errs = append(errs, RowError{Code: CodeMFAFactorsInvalid, Message: "totp needs a base32 secret", Path: path + "/totp"})
				}
			case "phone":
				if !e164.MatchString(val) || len(v) != 1 {
					errs = append(errs, RowError{Code: CodeMFAFactorsInvalid, Message: "phone needs an E.164 value", Path: path + "/phone"})
				}
			case "email":
				if _, err := identity.NormalizeEmail(val); err != nil || len(v) != 1 {
					errs = append(errs, RowError{Code: CodeMFAFactorsInvalid, Message: "email needs an email address value", Path: path + "/email"})
				}
			default:
				errs = append(errs, RowError{Code: CodeMFAFactorsInvalid, Message: "unknown factor " + kind, Path: path})
			}
		}
	}
	return len(fs), errs
}

func jsonType(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "undefined"
	}
	switch v[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// mask returns the row for the job's errors with every secret replaced by
// "[REDACTED]". Rows are stored exactly when they are malformed, so masking
// must not rely on their shape: all of custom_password_hash but a string
// algorithm, password_hash, any TOTP value and the values of unknown
// properties (a plaintext "password", say) are redacted whatever they hold.
func mask(raw json.RawMessage) map[string]any {
	const red = "[REDACTED]"
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return map[string]any{"value": red}
	}
	for k, v := range m {
		switch {
		case !allowed[k], k == "password_hash":
			m[k] = red
		case k == "custom_password_hash":
			c, ok := v.(map[string]any)
			if !ok {
				m[k] = red
				continue
			}
			for ck, cv := range c {
				if s, ok := cv.(string); ck == "algorithm" && ok && len(s) <= 32 {
					continue
				}
				c[ck] = red
			}
		case k == "mfa_factors":
			m[k] = maskFactors(v)
		}
	}
	return m
}

// maskFactors redacts every TOTP entry of mfa_factors, and anything whose
// shape is not a list of factor objects (it may be a bare secret).
func maskFactors(v any) any {
	const red = "[REDACTED]"
	maskOne := func(f any) any {
		fm, ok := f.(map[string]any)
		if !ok {
			return red
		}
		for fk := range fm {
			if fk != "email" && fk != "phone" {
				fm[fk] = red
			}
		}
		return fm
	}
	switch fs := v.(type) {
	case []any:
		for i, f := range fs {
			fs[i] = maskOne(f)
		}
		return fs
	case map[string]any:
		return maskOne(fs)
	case nil:
		return nil
	}
	return red
}

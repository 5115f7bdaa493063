// Package script is the Go glue of Authgraph's custom-database script ABI
// (rules-sdk/ABI.md, "Custom-database scripts"): register handlers with
// Handle in an init function, reach the legacy database with Query and
// Exec (always with parameters: never build SQL from user input), check
// passwords with BcryptVerify & co. Build with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o login.wasm .
//
// It is self-contained (standard library only) so that a template can be
// copied out of this repository as is.
package script

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Profile is the normalized profile login and get_user return. UserID must
// be stable: the user becomes auth0|<UserID>.
type Profile struct {
	UserID        string         `json:"user_id"`
	Email         string         `json:"email,omitempty"`
	EmailVerified bool           `json:"email_verified,omitempty"`
	Username      string         `json:"username,omitempty"`
	Name          string         `json:"name,omitempty"`
	GivenName     string         `json:"given_name,omitempty"`
	FamilyName    string         `json:"family_name,omitempty"`
	Nickname      string         `json:"nickname,omitempty"`
	Picture       string         `json:"picture,omitempty"`
	UserMetadata  map[string]any `json:"user_metadata,omitempty"`
	AppMetadata   map[string]any `json:"app_metadata,omitempty"`
}

// NewUser is create's argument.
type NewUser struct {
	Email        string         `json:"email"`
	Password     string         `json:"password"`
	Username     string         `json:"username,omitempty"`
	UserMetadata map[string]any `json:"user_metadata,omitempty"`
	AppMetadata  map[string]any `json:"app_metadata,omitempty"`
}

// Handlers are the operations a script implements; nil ones fail with a
// system error. One module may implement all of them and be uploaded for
// every key of options.scripts.
type Handlers struct {
	Login          func(username, password string) (*Profile, error)
	GetUser        func(email string) (*Profile, error) // nil, nil: not found
	Create         func(u NewUser) error
	Verify         func(email string) (bool, error)
	ChangePassword func(email, newPassword string) (bool, error)
	Delete         func(id string) error // id without "auth0|"
	ChangeEmail    func(email, newEmail string, verified bool) (bool, error)
}

var handlers Handlers

// Handle registers the script's handlers (call it from init).
func Handle(h Handlers) { handlers = h }

// Error is a typed script error (see the constructors).
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
	Email   string `json:"email,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// WrongCredentials: wrong password (email of the existing user, logged fp)
// or unknown user (email "", logged fu).
func WrongCredentials(email, msg string) error {
	return &Error{Code: "wrong_credentials", Email: email, Message: msg}
}

// UserExists: create found the user already there (logged fs).
func UserExists(msg string) error { return &Error{Code: "user_exists", Message: msg} }

// Validation: the input is unacceptable.
func Validation(msg string) error { return &Error{Code: "validation", Message: msg} }

// Row is one result row: column name to value (strings, int64, float64,
// bool or nil; binary values as base64).
type Row map[string]any

// String returns a column as a string ("" for NULL).
func (r Row) String(col string) string {
	switch v := r[col].(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprint(v)
	}
}

// Bool returns a boolean column (PostgreSQL boolean, MySQL TINYINT(1)).
func (r Row) Bool(col string) bool {
	switch v := r[col].(type) {
	case bool:
		return v
	case float64:
		return v != 0
	case string:
		return v == "1" || v == "t" || v == "true"
	}
	return false
}

type input struct {
	Op   string `json:"op"`
	Args struct {
		Username    string  `json:"username"`
		Password    string  `json:"password"`
		Email       string  `json:"email"`
		NewPassword string  `json:"new_password"`
		NewEmail    string  `json:"new_email"`
		Verified    bool    `json:"verified"`
		ID          string  `json:"id"`
		User        NewUser `json:"user"`
	} `json:"args"`
}

// dispatch runs the handler of the input's op and encodes the output.
func dispatch(raw []byte) (out []byte) {
	defer func() {
		if r := recover(); r != nil {
			out = encode(nil, fmt.Errorf("panic: %v", r))
		}
	}()
	var in input
	if err := json.Unmarshal(raw, &in); err != nil {
		return encode(nil, fmt.Errorf("bad input: %v", err))
	}
	h, a := handlers, in.Args
	missing := errors.New("this script does not implement " + in.Op)
	switch in.Op {
	case "login":
		if h.Login == nil {
			return encode(nil, missing)
		}
		p, err := h.Login(a.Username, a.Password)
		return encode(p, err)
	case "get_user":
		if h.GetUser == nil {
			return encode(nil, missing)
		}
		p, err := h.GetUser(a.Email)
		if p == nil {
			return encode(nil, err)
		}
		return encode(p, err)
	case "create":
		if h.Create == nil {
			return encode(nil, missing)
		}
		return encode(nil, h.Create(a.User))
	case "verify":
		if h.Verify == nil {
			return encode(nil, missing)
		}
		return encode(h.Verify(a.Email))
	case "change_password":
		if h.ChangePassword == nil {
			return encode(nil, missing)
		}
		return encode(h.ChangePassword(a.Email, a.NewPassword))
	case "delete":
		if h.Delete == nil {
			return encode(nil, missing)
		}
		return encode(nil, h.Delete(a.ID))
	case "change_email":
		if h.ChangeEmail == nil {
			return encode(nil, missing)
		}
		return encode(h.ChangeEmail(a.Email, a.NewEmail, a.Verified))
	}
	return encode(nil, errors.New("unknown op "+in.Op))
}

func encode(result any, err error) []byte {
	var out struct {
		Result any    `json:"result"`
		Error  *Error `json:"error,omitempty"`
	}
	out.Result = result
	if err != nil {
		out.Result = nil
		var e *Error
		if !errors.As(err, &e) {
			e = &Error{Code: "system", Message: err.Error()}
		}
		out.Error = e
	}
	b, mErr := json.Marshal(out)
	if mErr != nil {
		b, _ = json.Marshal(map[string]any{"error": Error{Code: "system", Message: mErr.Error()}})
	}
	return b
}

// call sends a JSON request to a host function and decodes its response
// into v; a response {"error": …} is returned as an error.
func call(fn func([]byte) []byte, req, v any) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	resp := fn(b)
	if len(resp) == 0 {
		return errors.New("no response from the host")
	}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(resp, &e) == nil && e.Error != "" {
		return errors.New(e.Error)
	}
	return json.Unmarshal(resp, v)
}

// Query runs a parameterized SELECT ($1… on PostgreSQL, ? on MySQL).
func Query(sql string, params ...any) ([]Row, error) {
	if params == nil {
		params = []any{}
	}
	var out struct{ Rows []Row }
	err := call(hostDBQuery, map[string]any{"sql": sql, "params": params}, &out)
	return out.Rows, err
}

// Exec runs a parameterized statement and returns the rows affected.
func Exec(sql string, params ...any) (int64, error) {
	if params == nil {
		params = []any{}
	}
	var out struct {
		RowsAffected int64 `json:"rows_affected"`
	}
	err := call(hostDBExec, map[string]any{"sql": sql, "params": params}, &out)
	return out.RowsAffected, err
}

type match struct{ Match bool }

// BcryptVerify checks password against a bcrypt hash (cost ≤ 14), on the host.
func BcryptVerify(hash, password string) (bool, error) {
	var m match
	err := call(hostBcryptVerify, map[string]any{"hash": hash, "password": password}, &m)
	return m.Match, err
}

// BcryptHash hashes password with bcrypt at cost (4–14), on the host.
func BcryptHash(password string, cost int) (string, error) {
	var out struct{ Hash string }
	err := call(hostBcryptHash, map[string]any{"password": password, "cost": cost}, &out)
	return out.Hash, err
}

// PBKDF2Verify checks password against base64 salt and hash (digest sha1,
// sha256 or sha512; ≤ 2,000,000 iterations).
func PBKDF2Verify(password, saltB64, hashB64 string, iterations int, digest string) (bool, error) {
	var m match
	err := call(hostPBKDF2Verify, map[string]any{"password": password, "salt": saltB64, "hash": hashB64,
		"iterations": iterations, "digest": digest}, &m)
	return m.Match, err
}

// Argon2Verify checks password against an argon2id PHC string (≤ 256 MiB).
func Argon2Verify(hash, password string) (bool, error) {
	var m match
	err := call(hostArgon2Verify, map[string]any{"hash": hash, "password": password}, &m)
	return m.Match, err
}

// Log writes one log line (shown by testConnectionScript).
func Log(format string, args ...any) { hostLog(fmt.Sprintf(format, args...)) }

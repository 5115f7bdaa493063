// Package customdb is the custom-database connection (docs/CUSTOM_DATABASE.md): a
// password connector whose lifecycle (login, get_user, create, verify,
// change_password, delete, change_email) is carried out by scripts run by
// the rules engine (rules.Engine.InvokeScript): WebAssembly modules, or
// Auth0's JavaScript functions, reaching the legacy database only through
// the connection's DSN (db.go).
//
// Like every connector it never touches Authgraph's store: import mode (lazy
// migration) is carried out by connectors/upstream, which looks in its own
// store before calling Login.
package customdb

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/internal/tracing"
	"github.com/authgraph/authgraph/metrics"
	"github.com/authgraph/authgraph/rules"
)

// Provider is the user_id prefix of custom-database users: auth0|<id>.
const Provider = "auth0"

// Operations, the keys of options.scripts.
const (
	OpLogin          = "login"
	OpGetUser        = "get_user"
	OpCreate         = "create"
	OpVerify         = "verify"
	OpChangePassword = "change_password"
	OpDelete         = "delete"
	OpChangeEmail    = "change_email"
)

// Ops lists the operations in the documented order (docs/CUSTOM_DATABASE.md).
var Ops = []string{OpLogin, OpGetUser, OpCreate, OpVerify, OpChangePassword, OpDelete, OpChangeEmail}

// Error codes a script returns in {"error": {"code": …}}.
const (
	CodeWrongCredentials = "wrong_credentials"
	CodeUserExists       = "user_exists"
	CodeValidation       = "validation"
	CodeSystem           = "system"
)

// DefaultTimeout is a script's time limit: legacy databases and bcrypt are
// slower than rules (Auth0 allows about 20 s; MaxTimeout caps it).
const DefaultTimeout = 10 * time.Second

// Errors.
var (
	// ErrNoScript: the connection has no script for the operation.
	ErrNoScript = errors.New("no script for this operation")
	// ErrScript: the script failed (trap, limit, invalid result) or
	// reported a system error.
	ErrScript = errors.New("custom database script failed")
)

// ScriptError is a typed error a script returned.
type ScriptError struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
	// Email is the user's email for wrong_credentials when the user exists
	// (absent: unknown user, logged fu instead of fp).
	Email string `json:"email,omitempty"`
}

func (e *ScriptError) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// Config is what a connector is built from.
type Config struct {
	// Name is the connection's name; Version changes whenever its scripts
	// may have (the connection's updated_at), so compiled modules are
	// never stale.
	Name, Version string
	Engine        *rules.Engine
	// DSN is the legacy database (empty: scripts have no database).
	DSN string
	// Scripts are the wasm modules by operation.
	Scripts map[string][]byte
	// JavaScript are Auth0's JavaScript scripts by operation
	// (options.customScripts); one takes the place of a module for the
	// same operation.
	JavaScript map[string]string
	// Configuration is Auth0's options.configuration: secret values the
	// scripts read (JavaScript: the global configuration; WebAssembly: the
	// input's configuration member).
	Configuration map[string]any
	ImportMode    bool
	Timeout       time.Duration
	// Metrics times the script runs (nil: not measured).
	Metrics *metrics.Registry
}

// FromOptions reads a customdb connection's options and decrypted secrets.
func FromOptions(name, version string, engine *rules.Engine, options, secrets map[string]any) (Config, error) {
	c := Config{Name: name, Version: version, Engine: engine, Scripts: map[string][]byte{}, JavaScript: map[string]string{}}
	c.DSN, _ = secrets["dsn"].(string)
	c.ImportMode, _ = options["import_mode"].(bool)
	c.Configuration, _ = secrets["configuration"].(map[string]any)
	js, _ := secrets["customScripts"].(map[string]any)
	for op, v := range js {
		s, ok := v.(string)
		if !ok {
			return c, fmt.Errorf("%w: customScripts.%s must be JavaScript source", connectors.ErrConfig, op)
		}
		c.JavaScript[op] = s
	}
	scripts, _ := secrets["scripts"].(map[string]any)
	for op, v := range scripts {
		s, ok := v.(string)
		if !ok {
			return c, fmt.Errorf("%w: scripts.%s must be a base64 string", connectors.ErrConfig, op)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return c, fmt.Errorf("%w: scripts.%s is not base64: %v", connectors.ErrConfig, op, err)
		}
		c.Scripts[op] = b
	}
	return c, nil
}

// Connector runs a connection's scripts.
type Connector struct {
	cfg     Config
	db      *DB
	modules map[string]rules.RuleVersion
	// redact removes the configuration values and the DSN password from
	// the scripts' typed errors.
	redact *strings.Replacer
}

// New builds a connector; the database pool opens lazily.
func New(cfg Config) (*Connector, error) {
	if cfg.Engine == nil {
		return nil, fmt.Errorf("%w: no script engine", connectors.ErrConfig)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	c := &Connector{cfg: cfg, modules: map[string]rules.RuleVersion{}}
	if cfg.DSN != "" {
		db, err := OpenDB(cfg.DSN)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", connectors.ErrConfig, err)
		}
		c.db = db
	}
	secrets := scriptSecrets(cfg)
	c.redact = redactor(secrets)
	for op, mod := range cfg.Scripts {
		sum := sha256.Sum256(mod)
		c.modules[op] = rules.RuleVersion{
			ID: "customdb:" + cfg.Name + ":" + op, Name: cfg.Name + "/" + op,
			Version: cfg.Version + "-" + hex.EncodeToString(sum[:8]), Module: mod,
			Timeout: cfg.Timeout, Script: true, Secrets: secrets,
		}
	}
	for op, src := range cfg.JavaScript {
		src = rules.ScriptSource(src)
		sum := sha256.Sum256([]byte(src))
		c.modules[op] = rules.RuleVersion{
			ID: "customdb:" + cfg.Name + ":" + op, Name: cfg.Name + "/" + op,
			Version: cfg.Version + "-js-" + hex.EncodeToString(sum[:8]), JavaScript: src,
			Timeout: cfg.Timeout, Script: true, Secrets: secrets,
		}
	}
	return c, nil
}

// redactor replaces each secret value (of 4 bytes or more, as the engine
// does) with [REDACTED].
func redactor(secrets map[string]string) *strings.Replacer {
	var pairs []string
	for _, v := range secrets {
		if len(v) >= 4 {
			pairs = append(pairs, v, "[REDACTED]")
		}
	}
	return strings.NewReplacer(pairs...)
}

// scriptSecrets are the values the engine redacts from a script's logs and
// errors (which reach the server log and testConnectionScript): the
// configuration's string values, the DSN and its password.
func scriptSecrets(cfg Config) map[string]string {
	out := map[string]string{}
	for k, v := range cfg.Configuration {
		if s, ok := v.(string); ok {
			out["configuration."+k] = s
		}
	}
	if cfg.DSN != "" {
		out["dsn"] = cfg.DSN
		if u, err := url.Parse(cfg.DSN); err == nil {
			if pw, ok := u.User.Password(); ok {
				out["dsn.password"] = pw
			}
		}
	}
	return out
}

// ImportMode reports whether the connection migrates users lazily.
func (c *Connector) ImportMode() bool { return c.cfg.ImportMode }

// Close releases the pool and the compiled scripts.
func (c *Connector) Close() {
	if c.db != nil {
		_ = c.db.Close()
	}
	for _, m := range c.modules {
		c.cfg.Engine.Evict(context.Background(), m.ID, m.Version)
	}
}

// Outcome is one script run.
type Outcome struct {
	// Result is the script's result JSON (null when none); Err its typed
	// error, if it returned one.
	Result   json.RawMessage
	Err      *ScriptError
	Logs     []string
	Duration time.Duration
}

// Run runs op's script with args. A typed error is in Outcome.Err with a
// nil error; the error is ErrNoScript or wraps ErrScript (with the engine's
// sentinel: time limit, memory, trap…).
func (c *Connector) Run(ctx context.Context, op string, args map[string]any) (_ Outcome, err error) {
	// One span per script run (login, get_user, create…); never its
	// arguments, which hold passwords.
	ctx, span := tracing.Start(ctx, "customdb.script",
		attribute.String("authgraph.connection", c.cfg.Name), attribute.String("authgraph.script", op))
	defer func() { tracing.End(span, err) }()
	rv, ok := c.modules[op]
	if !ok {
		return Outcome{}, fmt.Errorf("%w: %s", ErrNoScript, op)
	}
	in := map[string]any{"op": op, "args": args, "connection": c.cfg.Name}
	if len(c.cfg.Configuration) > 0 {
		in["configuration"] = c.cfg.Configuration
	}
	input, err := json.Marshal(in)
	if err != nil {
		return Outcome{}, err
	}
	var db rules.ScriptDB
	if c.db != nil {
		db = c.db
	}
	inv, err := c.cfg.Engine.InvokeScript(ctx, rv, input, db)
	out := Outcome{Logs: inv.Logs, Duration: inv.Duration}
	if err != nil {
		c.cfg.Metrics.Script(op, metrics.ScriptFailed, inv.Duration)
		c.cfg.Metrics.ScriptFailed(op, rules.Reason(err))
		return out, fmt.Errorf("%w: %s: %w", ErrScript, op, err)
	}
	var res struct {
		Result json.RawMessage `json:"result"`
		Error  *ScriptError    `json:"error"`
	}
	if err := json.Unmarshal(inv.Output, &res); err != nil {
		c.cfg.Metrics.Script(op, metrics.ScriptFailed, inv.Duration)
		c.cfg.Metrics.ScriptFailed(op, rules.Reason(rules.ErrBadResult))
		return out, fmt.Errorf("%w: %s: %w: %v", ErrScript, op, rules.ErrBadResult, err)
	}
	out.Result, out.Err = res.Result, res.Error
	if out.Err != nil && out.Err.Code == "" {
		out.Err.Code = CodeSystem
	}
	if out.Err != nil {
		// The engine redacts logs and failures; a typed error is the
		// script's own result and is redacted here.
		out.Err.Message = c.redact.Replace(out.Err.Message)
	}
	if c.cfg.Metrics != nil {
		outcome := metrics.ScriptOK
		if out.Err != nil {
			outcome = out.Err.Code
		}
		c.cfg.Metrics.Script(op, outcome, inv.Duration)
	}
	if len(out.Result) == 0 {
		out.Result = json.RawMessage("null")
	}
	return out, nil
}

// Profile is the normalized profile login and get_user return.
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

// ParseProfile decodes a profile; nil for a JSON null (get_user: not found).
func ParseProfile(raw json.RawMessage) (*Profile, map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, nil
	}
	var p Profile
	var m map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, nil, fmt.Errorf("%w: profile: %v", ErrScript, err)
	}
	_ = json.Unmarshal(raw, &m)
	p.UserID = strings.TrimPrefix(fmt.Sprint(p.UserID), Provider+"|")
	if p.UserID == "" {
		return nil, nil, fmt.Errorf("%w: the profile has no user_id", ErrScript)
	}
	return &p, m, nil
}

// Login runs the login script (connectors.PasswordConnector). The identity
// is auth0|<returned user_id>.
func (c *Connector) Login(ctx context.Context, username, password string) (connectors.Identity, error) {
	if strings.TrimSpace(username) == "" || password == "" {
		return connectors.Identity{}, &connectors.CredentialsError{Reason: connectors.ReasonEmptyPassword, Unknown: true}
	}
	out, err := c.Run(ctx, OpLogin, map[string]any{"username": username, "password": password})
	if err != nil {
		return connectors.Identity{}, connectors.Unavailable(err)
	}
	if e := out.Err; e != nil {
		switch e.Code {
		case CodeWrongCredentials:
			if e.Email == "" {
				return connectors.Identity{}, &connectors.CredentialsError{Reason: connectors.ReasonUnknownUser, Unknown: true}
			}
			return connectors.Identity{}, &connectors.CredentialsError{Reason: connectors.ReasonWrongPassword}
		default:
			return connectors.Identity{}, connectors.Unavailable(fmt.Errorf("%w: login: %v", ErrScript, e))
		}
	}
	p, raw, err := ParseProfile(out.Result)
	if err != nil {
		return connectors.Identity{}, connectors.Unavailable(err)
	}
	if p == nil {
		return connectors.Identity{}, &connectors.CredentialsError{Reason: connectors.ReasonUnknownUser, Unknown: true}
	}
	return p.Identity(raw), nil
}

// Identity converts a profile.
func (p *Profile) Identity(raw map[string]any) connectors.Identity {
	return connectors.Identity{
		Provider: Provider, UserID: p.UserID, Email: p.Email, EmailVerified: p.EmailVerified,
		Name: p.Name, GivenName: p.GivenName, FamilyName: p.FamilyName, Nickname: p.Nickname,
		Picture: p.Picture, Username: p.Username, Raw: raw,
	}
}

// GetUser runs the get_user script: the user of the legacy database with
// this email, or nil when there is none (docs/CUSTOM_DATABASE.md: what guards signup,
// password reset and email change against duplicates). The identity is
// auth0|<returned user_id>. A typed error the script returned, or its
// failure, is an error wrapping ErrScript; ErrNoScript when the connection
// has no get_user script (callers decide whether that means "not found").
func (c *Connector) GetUser(ctx context.Context, email string) (*connectors.Identity, error) {
	out, err := c.Run(ctx, OpGetUser, map[string]any{"email": email})
	if err != nil {
		return nil, err
	}
	if out.Err != nil {
		return nil, fmt.Errorf("%w: get_user: %v", ErrScript, out.Err)
	}
	p, raw, err := ParseProfile(out.Result)
	if err != nil || p == nil {
		return nil, err
	}
	id := p.Identity(raw)
	return &id, nil
}

// HasScript reports whether the connection has a script for op.
func (c *Connector) HasScript(op string) bool {
	_, ok := c.modules[op]
	return ok
}

// NewUser is the create script's user (docs/CUSTOM_DATABASE.md; rules-sdk/ABI.md).
type NewUser struct {
	Email        string         `json:"email"`
	Password     string         `json:"password"`
	Username     string         `json:"username,omitempty"`
	UserMetadata map[string]any `json:"user_metadata,omitempty"`
	AppMetadata  map[string]any `json:"app_metadata,omitempty"`
}

// typedError returns the script's typed error as an error: a *ScriptError
// for user_exists and validation (the caller's input was refused), one
// wrapping ErrScript for the rest (system faults).
func typedError(op string, e *ScriptError) error {
	switch e.Code {
	case CodeUserExists, CodeValidation:
		return e
	}
	return fmt.Errorf("%w: %s: %v", ErrScript, op, e)
}

// Create runs the create script. A user_exists or validation refusal is a
// *ScriptError; a failure wraps ErrScript; ErrNoScript without a script.
func (c *Connector) Create(ctx context.Context, u NewUser) error {
	out, err := c.Run(ctx, OpCreate, map[string]any{"user": u})
	if err != nil {
		return err
	}
	if out.Err != nil {
		return typedError(OpCreate, out.Err)
	}
	return nil
}

// Verify runs the verify script: the legacy database marks email verified.
func (c *Connector) Verify(ctx context.Context, email string) error {
	ok, err := c.runBool(ctx, OpVerify, map[string]any{"email": email})
	if err == nil && !ok {
		err = fmt.Errorf("%w: verify: the script did not verify %s", ErrScript, email)
	}
	return err
}

// ChangePassword runs the change_password script; false when the script
// changed no user.
func (c *Connector) ChangePassword(ctx context.Context, email, newPassword string) (bool, error) {
	return c.runBool(ctx, OpChangePassword, map[string]any{"email": email, "new_password": newPassword})
}

// ChangeEmail runs the change_email script; false when it changed no user.
func (c *Connector) ChangeEmail(ctx context.Context, email, newEmail string, verified bool) (bool, error) {
	return c.runBool(ctx, OpChangeEmail, map[string]any{"email": email, "new_email": newEmail, "verified": verified})
}

// Delete runs the delete script with the user's id without "auth0|".
func (c *Connector) Delete(ctx context.Context, id string) error {
	out, err := c.Run(ctx, OpDelete, map[string]any{"id": strings.TrimPrefix(id, Provider+"|")})
	if err != nil {
		return err
	}
	if out.Err != nil {
		return typedError(OpDelete, out.Err)
	}
	return nil
}

// runBool runs a script whose result is true or false. The scripts
// may also answer an object (change_password's {last_password_reset}),
// which counts as true.
func (c *Connector) runBool(ctx context.Context, op string, args map[string]any) (bool, error) {
	out, err := c.Run(ctx, op, args)
	if err != nil {
		return false, err
	}
	if out.Err != nil {
		return false, typedError(op, out.Err)
	}
	switch r := strings.TrimSpace(string(out.Result)); {
	case r == "true":
		return true, nil
	case r == "false", r == "null":
		return false, nil
	case strings.HasPrefix(r, "{"):
		return true, nil
	default:
		return false, fmt.Errorf("%w: %s: result must be true or false, got %.40s", ErrScript, op, r)
	}
}

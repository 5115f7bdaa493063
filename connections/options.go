// Package connections validates connection options (docs/CONNECTIONS.md) and splits the
// secret ones from the rest. Option names follow Auth0's, so exported Auth0
// configurations carry over.
package connections

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// Strategies.
const (
	StrategyDatabase = "database"
	StrategyOIDC     = "oidc"
	StrategySAML     = "saml"
	StrategyLDAP     = "ldap"
	StrategyCustomDB = "customdb"
)

// Strategies lists every strategy.
var Strategies = []string{StrategyDatabase, StrategyOIDC, StrategySAML, StrategyLDAP, StrategyCustomDB}

// Sync modes (options.set_user_root_attributes).
var syncModes = []string{"on_each_login", "on_first_login", "never_on_login"}

// OptionError is a bad option; Key names it. Err, when set, is the cause
// (a script's *jsvm.SyntaxError gives the line and column).
type OptionError struct {
	Key, Message string
	Err          error
}

func (e *OptionError) Error() string { return fmt.Sprintf("option %q %s", e.Key, e.Message) }

func (e *OptionError) Unwrap() error { return e.Err }

type kind int

const (
	kString kind = iota
	kBool
	kInt
	kStrings
	kObject
	kURL
)

type spec struct {
	kind   kind
	secret bool
	enum   []string
	// check validates further; sub-objects validate their own fields.
	check func(key string, v any) error
}

var common = map[string]spec{
	"set_user_root_attributes": {kind: kString, enum: syncModes},
	"domain_aliases":           {kind: kStrings},
	"non_persistent_attrs":     {kind: kStrings},
}

var strategyOptions = map[string]map[string]spec{
	StrategyDatabase: {
		"requires_username":         {kind: kBool},
		"disable_signup":            {kind: kBool},
		"passwordPolicy":            {kind: kString, enum: []string{"none", "low", "fair", "good", "excellent"}},
		"password_history":          {kind: kObject, check: object(map[string]kind{"enable": kBool, "size": kInt})},
		"password_dictionary":       {kind: kObject, check: object(map[string]kind{"enable": kBool, "dictionary": kStrings})},
		"password_no_personal_info": {kind: kObject, check: object(map[string]kind{"enable": kBool})},
		"brute_force_protection":    {kind: kBool},
		"validation":                {kind: kObject, check: usernameValidation},
		// upgrade_password_hashes (default true) re-hashes imported bcrypt
		// hashes to argon2id at login; false keeps them, e.g. while a legacy
		// application still verifies the same hashes.
		"upgrade_password_hashes": {kind: kBool},
	},
	StrategyOIDC: {
		"discovery_url":          {kind: kURL},
		"issuer":                 {kind: kURL},
		"client_id":              {kind: kString},
		"client_secret":          {kind: kString, secret: true},
		"scope":                  {kind: kString},
		"attribute_map":          {kind: kObject, check: object(map[string]kind{"mapping_mode": kString, "userinfo_scope": kString, "attributes": kObject})},
		"trust_email_verified":   {kind: kBool},
		"preset":                 {kind: kString, enum: []string{"github", "google"}},
		"authorization_endpoint": {kind: kURL},
		"token_endpoint":         {kind: kURL},
		"userinfo_endpoint":      {kind: kURL},
		// allow_private_network (default false) lets the provider's
		// endpoints be on loopback or a private network, plain http
		// included: test providers and intranets (package outbound).
		"allow_private_network": {kind: kBool},
	},
	StrategySAML: {
		"metadataXml":       {kind: kString},
		"metadataUrl":       {kind: kURL},
		"signInEndpoint":    {kind: kURL},
		"signingCert":       {kind: kString},
		"fieldsMap":         {kind: kObject},
		"user_id_attribute": {kind: kString},
		"signSAMLRequest":   {kind: kBool},
		"idpinitiated":      {kind: kObject, check: object(map[string]kind{"enabled": kBool})},
		"allow_sha1":        {kind: kBool},
		// As for oidc: metadataUrl may be on a private network.
		"allow_private_network": {kind: kBool},
	},
	StrategyLDAP: {
		"url":                 {kind: kURL},
		"start_tls":           {kind: kBool},
		"bind_dn":             {kind: kString},
		"bind_password":       {kind: kString, secret: true},
		"user_search_base":    {kind: kString},
		"user_search_filter":  {kind: kString},
		"username_attribute":  {kind: kString},
		"group_search_base":   {kind: kString},
		"group_search_filter": {kind: kString},
		"preset":              {kind: kString, enum: []string{"openldap", "active_directory"}},
		"ca_cert":             {kind: kString},
		"allow_insecure":      {kind: kBool},
		// As for database connections: failed logins are counted per
		// (connection, username, IP) unless false.
		"brute_force_protection": {kind: kBool},
	},
	StrategyCustomDB: {
		"dsn":         {kind: kString, secret: true},
		"import_mode": {kind: kBool},
		"scripts":     {kind: kObject, secret: true},
		// Auth0's JavaScript scripts by operation, and its configuration:
		// secret values the scripts read (docs/CUSTOM_DATABASE.md).
		"customScripts": {kind: kObject, secret: true},
		"configuration": {kind: kObject, secret: true, check: stringValues},
		// As for database connections: signups (the create script, or a
		// local user in import mode) and the password policy applied to
		// signups, resets and password changes before a script sees them.
		"disable_signup":            {kind: kBool},
		"passwordPolicy":            {kind: kString, enum: []string{"none", "low", "fair", "good", "excellent"}},
		"password_dictionary":       {kind: kObject, check: object(map[string]kind{"enable": kBool, "dictionary": kStrings})},
		"password_no_personal_info": {kind: kObject, check: object(map[string]kind{"enable": kBool})},
		"brute_force_protection":    {kind: kBool},
	},
}

// Split validates options for strategy and separates secret values (sealed
// and write-only) from the rest. Unknown keys and wrong types are errors
// naming the key.
func Split(strategy string, options map[string]any) (public, secret map[string]any, err error) {
	specs, ok := strategyOptions[strategy]
	if !ok {
		return nil, nil, &OptionError{Key: "strategy", Message: "must be one of " + strings.Join(Strategies, ", ")}
	}
	public, secret = map[string]any{}, map[string]any{}
	for _, key := range sortedKeys(options) {
		v := options[key]
		s, ok := specs[key]
		if !ok {
			s, ok = common[key]
		}
		if !ok {
			return nil, nil, &OptionError{Key: key, Message: "is not an option of " + strategy + " connections"}
		}
		if v == nil { // null removes the option
			continue
		}
		if err := s.validate(key, v); err != nil {
			return nil, nil, err
		}
		if s.secret {
			secret[key] = v
		} else {
			public[key] = v
		}
	}
	return public, secret, nil
}

// SyncMode returns options' set_user_root_attributes, defaulting to
// on_each_login as Auth0 does.
func SyncMode(options map[string]any) string {
	if s, ok := options["set_user_root_attributes"].(string); ok && slices.Contains(syncModes, s) {
		return s
	}
	return "on_each_login"
}

// Bool reads a boolean option.
func Bool(options map[string]any, key string) bool {
	b, _ := options[key].(bool)
	return b
}

// UsernameBounds returns the database connection's username length bounds:
// 1 to 15 by default, configurable up to 128.
func UsernameBounds(options map[string]any) (minLen, maxLen int) {
	minLen, maxLen = 1, 15
	v, _ := options["validation"].(map[string]any)
	u, _ := v["username"].(map[string]any)
	if n, ok := number(u["min"]); ok {
		minLen = n
	}
	if n, ok := number(u["max"]); ok {
		maxLen = n
	}
	return minLen, maxLen
}

func (s spec) validate(key string, v any) error {
	bad := func(what string) error { return &OptionError{Key: key, Message: "must be " + what} }
	switch s.kind {
	case kString:
		str, ok := v.(string)
		if !ok {
			return bad("a string")
		}
		if len(s.enum) > 0 && !slices.Contains(s.enum, str) {
			return bad("one of " + strings.Join(s.enum, ", "))
		}
	case kURL:
		str, ok := v.(string)
		if !ok {
			return bad("a URL string")
		}
		u, err := url.Parse(str)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return bad("an absolute URL")
		}
	case kBool:
		if _, ok := v.(bool); !ok {
			return bad("a boolean")
		}
	case kInt:
		if _, ok := number(v); !ok {
			return bad("an integer")
		}
	case kStrings:
		list, ok := v.([]any)
		if !ok {
			return bad("a list of strings")
		}
		for _, item := range list {
			if _, ok := item.(string); !ok {
				return bad("a list of strings")
			}
		}
	case kObject:
		if _, ok := v.(map[string]any); !ok {
			return bad("an object")
		}
	}
	if s.check != nil {
		return s.check(key, v)
	}
	return nil
}

// object validates a sub-object's known fields.
func object(fields map[string]kind) func(string, any) error {
	return func(key string, v any) error {
		m := v.(map[string]any)
		for _, k := range sortedKeys(m) {
			kd, ok := fields[k]
			if !ok {
				return &OptionError{Key: key + "." + k, Message: "is not a known option"}
			}
			if err := (spec{kind: kd}).validate(key+"."+k, m[k]); err != nil {
				return err
			}
		}
		return nil
	}
}

// stringValues checks an object whose values are all strings.
func stringValues(key string, v any) error {
	m := v.(map[string]any)
	for _, k := range sortedKeys(m) {
		if _, ok := m[k].(string); !ok {
			return &OptionError{Key: key + "." + k, Message: "must be a string"}
		}
	}
	return nil
}

func usernameValidation(key string, v any) error {
	m := v.(map[string]any)
	for _, k := range sortedKeys(m) {
		if k != "username" {
			return &OptionError{Key: key + "." + k, Message: "is not a known option"}
		}
	}
	u, ok := m["username"].(map[string]any)
	if !ok {
		return &OptionError{Key: key + ".username", Message: "must be an object {min, max}"}
	}
	minLen, maxLen := 1, 15
	for _, k := range sortedKeys(u) {
		n, ok := number(u[k])
		switch {
		case k != "min" && k != "max":
			return &OptionError{Key: key + ".username." + k, Message: "is not a known option"}
		case !ok:
			return &OptionError{Key: key + ".username." + k, Message: "must be an integer"}
		case k == "min":
			minLen = n
		default:
			maxLen = n
		}
	}
	if minLen < 1 || maxLen > 128 || minLen > maxLen {
		return &OptionError{Key: key + ".username", Message: "must satisfy 1 ≤ min ≤ max ≤ 128"}
	}
	return nil
}

// number reads a JSON number (float64 from encoding/json, or an int from Go
// callers) that holds an integer.
func number(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		if n == float64(int(n)) {
			return int(n), true
		}
	case interface{ Int64() (int64, error) }: // json.Number
		i, err := n.Int64()
		return int(i), err == nil
	}
	return 0, false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

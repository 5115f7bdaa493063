package rules

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// A hand-written decoder for Event and encoder for Result. A Go guest spent
// most of a call in encoding/json's reflection and in the garbage it makes;
// these handle the documents the host sends and the values rules usually
// return without reflection, and give up (ok == false) on anything else:
// invalid JSON, a member of an unexpected type, a duplicate member, a name
// differing only in case, a value type the encoder does not know. The caller
// then runs encoding/json, so results and error messages are exactly
// encoding/json's in every case (codec_test.go compares them).

// maxDepth bounds the recursion of both; deeper documents go to encoding/json.
const maxDepth = 500

// decodeEvent decodes data into a zero e.
func decodeEvent(data []byte, e *Event) error {
	d := decoder{s: string(data)} // one copy; unescaped strings are substrings of it
	d.ws()
	if d.event(e) {
		d.ws()
		if d.i == len(d.s) {
			return nil
		}
	}
	*e = Event{}
	return json.Unmarshal(data, e)
}

type decoder struct {
	s string
	i int
}

func (d *decoder) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (d *decoder) peek() byte {
	d.ws()
	if d.i < len(d.s) {
		return d.s[d.i]
	}
	return 0
}

// null consumes a null literal if it is next.
func (d *decoder) null() bool {
	if d.peek() == 'n' && strings.HasPrefix(d.s[d.i:], "null") {
		d.i += 4
		return true
	}
	return false
}

// object calls member for each member of an object; member parses the value
// and returns false to give up. Each known name may appear once (encoding/json
// merges repeated members into the same field; leave that to it). known lists
// the names member handles, in order.
func (d *decoder) object(depth int, known []string, member func(k int) bool) bool {
	if depth > maxDepth {
		return false
	}
	if d.peek() != '{' {
		return false
	}
	d.i++
	var seen uint32
	if d.peek() == '}' {
		d.i++
		return true
	}
	for {
		if d.peek() != '"' {
			return false
		}
		key, ok := d.str()
		if !ok || d.peek() != ':' {
			return false
		}
		d.i++
		k := slices.Index(known, key)
		switch {
		case k >= 0:
			if seen&(1<<k) != 0 || !member(k) {
				return false
			}
			seen |= 1 << k
		case foldsToAny(key, known):
			return false
		default:
			if !d.skip(depth + 1) {
				return false
			}
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return true
		default:
			return false
		}
	}
}

func foldsToAny(key string, known []string) bool {
	for _, k := range known {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

// str reads a string token at d.i (an opening quote).
func (d *decoder) str() (string, bool) {
	d.i++
	start := d.i
	ascii := true
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			s := d.s[start:d.i]
			d.i++
			if !ascii && !utf8.ValidString(s) {
				return "", false // encoding/json replaces invalid bytes: let it
			}
			return s, true
		case c == '\\':
			return d.unescape(start)
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.i++
	}
	return "", false
}

// unescape finishes a string with escapes, as encoding/json's unquote does.
func (d *decoder) unescape(start int) (string, bool) {
	b := make([]byte, 0, d.i-start+16)
	b = append(b, d.s[start:d.i]...)
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			d.i++
			if !utf8.Valid(b) {
				return "", false
			}
			return string(b), true
		case c < 0x20:
			return "", false
		case c != '\\':
			b = append(b, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.s) {
			return "", false
		}
		e := d.s[d.i+1]
		d.i += 2
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(d.s[d.i:])
			if r < 0 {
				return "", false
			}
			d.i += 4
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if strings.HasPrefix(d.s[d.i:], `\u`) {
					r2 = hex4(d.s[d.i+2:])
				}
				if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
					d.i += 6
					b = utf8.AppendRune(b, dec)
					continue
				}
				r = unicode.ReplacementChar
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", false
		}
	}
	return "", false
}

func hex4(s string) rune {
	if len(s) < 4 {
		return -1
	}
	var r rune
	for i := range 4 {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// number reads a JSON number literal (RFC 8259 grammar).
func (d *decoder) number() (string, bool) {
	start := d.i
	s := d.s
	i := d.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return "", false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return "", false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return "", false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	d.i = i
	return s[start:i], true
}

// skip checks and skips any value.
func (d *decoder) skip(depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch c := d.peek(); {
	case c == '{':
		return d.object(depth, nil, nil)
	case c == '[':
		return d.array(func() bool { return d.skip(depth + 1) })
	case c == '"':
		_, ok := d.str()
		return ok
	case c == '-' || c >= '0' && c <= '9':
		_, ok := d.number()
		return ok
	default:
		_, ok := d.literal()
		return ok
	}
}

// literal reads true, false or null; v is nil for null.
func (d *decoder) literal() (any, bool) {
	rest := d.s[d.i:]
	switch {
	case strings.HasPrefix(rest, "true"):
		d.i += 4
		return true, true
	case strings.HasPrefix(rest, "false"):
		d.i += 5
		return false, true
	case strings.HasPrefix(rest, "null"):
		d.i += 4
		return nil, true
	}
	return nil, false
}

// array calls elem for each element.
func (d *decoder) array(elem func() bool) bool {
	if d.peek() != '[' {
		return false
	}
	d.i++
	if d.peek() == ']' {
		d.i++
		return true
	}
	for {
		if !elem() {
			return false
		}
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return true
		default:
			return false
		}
	}
}

// anyValue decodes a value as encoding/json does into an interface{}.
func (d *decoder) anyValue(depth int) (any, bool) {
	if depth > maxDepth {
		return nil, false
	}
	switch c := d.peek(); {
	case c == '{':
		m := map[string]any{}
		ok := d.anyMembers(m, depth)
		return m, ok
	case c == '[':
		a := []any{}
		ok := d.array(func() bool {
			v, ok := d.anyValue(depth + 1)
			a = append(a, v)
			return ok
		})
		return a, ok
	case c == '"':
		return d.str()
	case c == '-' || c >= '0' && c <= '9':
		lit, ok := d.number()
		if !ok {
			return nil, false
		}
		f, err := strconv.ParseFloat(lit, 64)
		return f, err == nil
	default:
		return d.literal()
	}
}

// anyMembers decodes an object's members into m (the last duplicate wins,
// as in encoding/json).
func (d *decoder) anyMembers(m map[string]any, depth int) bool {
	if d.peek() != '{' {
		return false
	}
	d.i++
	if d.peek() == '}' {
		d.i++
		return true
	}
	for {
		if d.peek() != '"' {
			return false
		}
		key, ok := d.str()
		if !ok || d.peek() != ':' {
			return false
		}
		d.i++
		v, ok := d.anyValue(depth + 1)
		if !ok {
			return false
		}
		m[key] = v
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return true
		default:
			return false
		}
	}
}

// Typed fields. null leaves a field unchanged, except maps and slices which
// it sets to nil, as in encoding/json.

func (d *decoder) string(p *string) bool {
	if d.null() {
		return true
	}
	if d.peek() != '"' {
		return false
	}
	s, ok := d.str()
	*p = s
	return ok
}

func (d *decoder) bool(p *bool) bool {
	if d.null() {
		return true
	}
	switch d.peek() {
	case 't', 'f':
		v, ok := d.literal()
		*p, _ = v.(bool)
		return ok
	}
	return false
}

func (d *decoder) int64(p *int64) bool {
	if d.null() {
		return true
	}
	lit, ok := d.number()
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(lit, 10, 64)
	*p = n
	return err == nil
}

func (d *decoder) time(p *time.Time) bool {
	d.ws()
	start := d.i
	if d.null() {
		return true
	}
	if d.peek() != '"' {
		return false
	}
	if _, ok := d.str(); !ok {
		return false
	}
	return p.UnmarshalJSON([]byte(d.s[start:d.i])) == nil
}

func (d *decoder) anyMap(p *map[string]any) bool {
	if d.null() {
		*p = nil
		return true
	}
	if *p == nil {
		*p = map[string]any{}
	}
	return d.anyMembers(*p, 1)
}

func (d *decoder) stringMap(p *map[string]string) bool {
	if d.null() {
		*p = nil
		return true
	}
	if d.peek() != '{' {
		return false
	}
	if *p == nil {
		*p = map[string]string{}
	}
	m := *p
	d.i++
	if d.peek() == '}' {
		d.i++
		return true
	}
	for {
		if d.peek() != '"' {
			return false
		}
		key, ok := d.str()
		if !ok || d.peek() != ':' {
			return false
		}
		d.i++
		var v string
		if !d.string(&v) {
			return false
		}
		m[key] = v
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return true
		default:
			return false
		}
	}
}

func (d *decoder) strings(p *[]string) bool {
	if d.null() {
		*p = nil
		return true
	}
	a := (*p)[:0]
	if a == nil {
		a = []string{}
	}
	ok := d.array(func() bool {
		var s string
		ok := d.string(&s)
		a = append(a, s)
		return ok
	})
	*p = a
	return ok
}

var (
	eventKeys       = []string{"user", "client", "connection", "request", "transaction", "stats", "secrets", "now", "rule", "authorization", "authentication"}
	userKeys        = []string{"user_id", "email", "email_verified", "username", "phone_number", "phone_verified", "name", "given_name", "family_name", "nickname", "picture", "blocked", "identities", "user_metadata", "app_metadata", "created_at", "updated_at", "last_login", "logins_count"}
	identityKeys    = []string{"connection", "provider", "user_id", "is_social", "profile_data"}
	clientKeys      = []string{"client_id", "name", "metadata"}
	connectionKeys  = []string{"id", "name", "strategy"}
	requestKeys     = []string{"ip", "user_agent", "hostname"}
	transactionKeys = []string{"protocol", "requested_scopes", "redirect_uri"}
	statsKeys       = []string{"logins_count"}
	ruleKeys        = []string{"id", "name"}
	authzKeys       = []string{"roles"}
	authnKeys       = []string{"methods"}
	methodKeys      = []string{"name", "timestamp"}
)

func (d *decoder) event(e *Event) bool {
	if d.peek() != '{' {
		return false // null or another type: encoding/json decides
	}
	return d.object(1, eventKeys, func(k int) bool {
		if d.null() {
			switch k {
			case 6:
				e.Secrets = nil
			}
			return true
		}
		switch k {
		case 0:
			return d.user(&e.User)
		case 1:
			c := &e.Client
			return d.object(2, clientKeys, func(k int) bool {
				switch k {
				case 0:
					return d.string(&c.ClientID)
				case 1:
					return d.string(&c.Name)
				default:
					return d.stringMap(&c.Metadata)
				}
			})
		case 2:
			c := &e.Connection
			return d.object(2, connectionKeys, func(k int) bool {
				return d.string([]*string{&c.ID, &c.Name, &c.Strategy}[k])
			})
		case 3:
			r := &e.Request
			return d.object(2, requestKeys, func(k int) bool {
				return d.string([]*string{&r.IP, &r.UserAgent, &r.Hostname}[k])
			})
		case 4:
			t := &e.Transaction
			return d.object(2, transactionKeys, func(k int) bool {
				switch k {
				case 0:
					return d.string(&t.Protocol)
				case 1:
					return d.strings(&t.RequestedScopes)
				default:
					return d.string(&t.RedirectURI)
				}
			})
		case 5:
			return d.object(2, statsKeys, func(int) bool { return d.int64(&e.Stats.LoginsCount) })
		case 6:
			return d.stringMap(&e.Secrets)
		case 7:
			return d.time(&e.Now)
		case 8:
			r := &e.Rule
			return d.object(2, ruleKeys, func(k int) bool {
				return d.string([]*string{&r.ID, &r.Name}[k])
			})
		case 9:
			return d.object(2, authzKeys, func(int) bool { return d.strings(&e.Authorization.Roles) })
		default:
			return d.object(2, authnKeys, func(int) bool { return d.methods(&e.Authentication.Methods) })
		}
	})
}

func (d *decoder) methods(p *[]AuthenticationMethod) bool {
	if d.null() {
		*p = nil
		return true
	}
	if *p != nil {
		return false // a repeated member: encoding/json merges elements
	}
	a := []AuthenticationMethod{}
	ok := d.array(func() bool {
		if d.null() {
			a = append(a, AuthenticationMethod{})
			return true
		}
		var m AuthenticationMethod
		ok := d.object(3, methodKeys, func(k int) bool {
			if k == 0 {
				return d.string(&m.Name)
			}
			return d.time(&m.Timestamp)
		})
		a = append(a, m)
		return ok
	})
	*p = a
	return ok
}

func (d *decoder) user(u *User) bool {
	return d.object(2, userKeys, func(k int) bool {
		switch k {
		case 0:
			return d.string(&u.UserID)
		case 1:
			return d.string(&u.Email)
		case 2:
			return d.bool(&u.EmailVerified)
		case 3:
			return d.string(&u.Username)
		case 4:
			return d.string(&u.PhoneNumber)
		case 5:
			return d.bool(&u.PhoneVerified)
		case 6:
			return d.string(&u.Name)
		case 7:
			return d.string(&u.GivenName)
		case 8:
			return d.string(&u.FamilyName)
		case 9:
			return d.string(&u.Nickname)
		case 10:
			return d.string(&u.Picture)
		case 11:
			return d.bool(&u.Blocked)
		case 12:
			return d.identities(&u.Identities)
		case 13:
			return d.anyMap(&u.UserMetadata)
		case 14:
			return d.anyMap(&u.AppMetadata)
		case 15:
			return d.time(&u.CreatedAt)
		case 16:
			return d.time(&u.UpdatedAt)
		case 17:
			return d.time(&u.LastLogin)
		default:
			return d.int64(&u.LoginsCount)
		}
	})
}

func (d *decoder) identities(p *[]Identity) bool {
	if d.null() {
		*p = nil
		return true
	}
	if *p != nil {
		return false // a repeated member: encoding/json merges elements
	}
	a := []Identity{}
	ok := d.array(func() bool {
		if d.null() {
			a = append(a, Identity{})
			return true
		}
		var id Identity
		ok := d.object(3, identityKeys, func(k int) bool {
			switch k {
			case 0:
				return d.string(&id.Connection)
			case 1:
				return d.string(&id.Provider)
			case 2:
				return d.string(&id.UserID)
			case 3:
				return d.bool(&id.IsSocial)
			default:
				return d.anyMap(&id.ProfileData)
			}
		})
		a = append(a, id)
		return ok
	})
	*p = a
	return ok
}

// appendResult appends r's JSON to dst; ok is false when a value needs
// encoding/json (an unknown type, NaN, a cycle...).
func appendResult(dst []byte, r *Result) ([]byte, bool) {
	e := encoder{b: dst, ok: true}
	e.b = append(e.b, '{')
	first := true
	field := func(name string) {
		if !first {
			e.b = append(e.b, ',')
		}
		first = false
		e.b = append(e.b, '"')
		e.b = append(e.b, name...)
		e.b = append(e.b, '"', ':')
	}
	if r.Deny != nil {
		field("deny")
		e.b = append(e.b, `{"reason":`...)
		e.str(r.Deny.Reason)
		e.b = append(e.b, '}')
	}
	for _, m := range []struct {
		name string
		m    map[string]any
	}{
		{"id_token_claims", r.IDTokenClaims},
		{"access_token_claims", r.AccessTokenClaims},
		{"app_metadata", r.AppMetadata},
		{"user_metadata", r.UserMetadata},
	} {
		if len(m.m) > 0 {
			field(m.name)
			e.anyMap(m.m, 1)
		}
	}
	if r.LinkTo != nil {
		field("link_to")
		e.b = append(e.b, `{"user_id":`...)
		e.str(r.LinkTo.UserID)
		e.b = append(e.b, '}')
	}
	if r.Roles != nil {
		field("roles")
		e.b = append(e.b, '{')
		if len(r.Roles.Add) > 0 {
			e.b = append(e.b, `"add":`...)
			e.strs(r.Roles.Add)
		}
		if len(r.Roles.Remove) > 0 {
			if len(r.Roles.Add) > 0 {
				e.b = append(e.b, ',')
			}
			e.b = append(e.b, `"remove":`...)
			e.strs(r.Roles.Remove)
		}
		e.b = append(e.b, '}')
	}
	if r.RequireMFA {
		field("require_mfa")
		e.b = append(e.b, "true"...)
	}
	if r.Error != nil {
		field("error")
		e.b = append(e.b, `{"message":`...)
		e.str(r.Error.Message)
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, '}')
	return e.b, e.ok
}

type encoder struct {
	b    []byte
	ok   bool
	keys []string
}

const hexDigits = "0123456789abcdef"

// strs appends a JSON array of strings.
func (e *encoder) strs(a []string) {
	e.b = append(e.b, '[')
	for i, s := range a {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.str(s)
	}
	e.b = append(e.b, ']')
}

// str appends s as encoding/json does (HTML characters, U+2028 and U+2029
// escaped, invalid UTF-8 replaced).
func (e *encoder) str(s string) {
	b := append(e.b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	e.b = append(b, '"')
}

func (e *encoder) float(f float64) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		e.ok = false
		return
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b := strconv.AppendFloat(e.b, f, format, -1, 64)
	if format == 'e' {
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	e.b = b
}

func (e *encoder) value(v any, depth int) {
	if depth > maxDepth {
		e.ok = false
		return
	}
	switch v := v.(type) {
	case nil:
		e.b = append(e.b, "null"...)
	case string:
		e.str(v)
	case bool:
		e.b = strconv.AppendBool(e.b, v)
	case float64:
		e.float(v)
	case int:
		e.b = strconv.AppendInt(e.b, int64(v), 10)
	case int64:
		e.b = strconv.AppendInt(e.b, v, 10)
	case int32:
		e.b = strconv.AppendInt(e.b, int64(v), 10)
	case uint:
		e.b = strconv.AppendUint(e.b, uint64(v), 10)
	case uint64:
		e.b = strconv.AppendUint(e.b, v, 10)
	case uint32:
		e.b = strconv.AppendUint(e.b, uint64(v), 10)
	case []any:
		if v == nil {
			e.b = append(e.b, "null"...)
			return
		}
		e.b = append(e.b, '[')
		for i, x := range v {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.value(x, depth+1)
		}
		e.b = append(e.b, ']')
	case []string:
		if v == nil {
			e.b = append(e.b, "null"...)
			return
		}
		e.b = append(e.b, '[')
		for i, x := range v {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.str(x)
		}
		e.b = append(e.b, ']')
	case map[string]any:
		if v == nil {
			e.b = append(e.b, "null"...)
			return
		}
		e.anyMap(v, depth+1)
	case map[string]string:
		if v == nil {
			e.b = append(e.b, "null"...)
			return
		}
		mark := len(e.keys)
		for k := range v {
			e.keys = append(e.keys, k)
		}
		keys := e.keys[mark:]
		slices.Sort(keys)
		e.b = append(e.b, '{')
		for i, k := range keys {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.str(k)
			e.b = append(e.b, ':')
			e.str(v[k])
		}
		e.b = append(e.b, '}')
		e.keys = e.keys[:mark]
	default:
		e.ok = false // encoding/json knows (Marshaler, structs, float32...)
	}
}

// anyMap appends a map with its keys sorted, as encoding/json does.
func (e *encoder) anyMap(m map[string]any, depth int) {
	if depth > maxDepth {
		e.ok = false
		return
	}
	mark := len(e.keys)
	for k := range m {
		e.keys = append(e.keys, k)
	}
	keys := e.keys[mark:]
	slices.Sort(keys)
	e.b = append(e.b, '{')
	for i, k := range keys {
		if !e.ok {
			break
		}
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.str(k)
		e.b = append(e.b, ':')
		e.value(m[k], depth)
	}
	e.b = append(e.b, '}')
	e.keys = e.keys[:mark]
}

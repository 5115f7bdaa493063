// Package bulkexport writes users to a file in Auth0's bulk-export formats:
// newline-delimited JSON (Auth0's "json") or CSV, gzip-compressed, with a
// chosen field list. It streams: users are read by keyset over their node
// id in batches, with each batch's identities loaded in one query, so an
// export of any size holds one batch in memory and costs two queries per
// batch.
//
// The REST users-exports job and the command line tool share it. Password
// hashes are written only when Options.IncludePasswordHashes is set, which
// only the command line tool does: the API never hands out hashes.
package bulkexport

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	entidentity "github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/identity"
)

// Format is the file format: Auth0's names.
type Format string

// Formats.
const (
	JSON Format = "json" // one JSON object per line (NDJSON)
	CSV  Format = "csv"
)

// ParseFormat accepts Auth0's "json" and "csv", and "ndjson" for json.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "json", "ndjson":
		return JSON, nil
	case "csv":
		return CSV, nil
	}
	return "", &identity.ValidationError{Field: "format", Message: fmt.Sprintf("format must be json or csv, not %q", s)}
}

// DefaultBatch is the number of users read per query.
const DefaultBatch = 5000

// Options say what to export.
type Options struct {
	Format Format
	// Fields to write; none means DefaultFields(Format).
	Fields []Field
	// ConnectionID, when set, exports only the users with an identity at
	// that connection (a node id, con_…).
	ConnectionID pulid.ID
	// Limit caps the number of users (0: all).
	Limit int
	// IncludePasswordHashes adds password_hash / custom_password_hash to
	// the default fields and allows them in Fields: the stored hashes in
	// Auth0's import representation, so that the file re-imports with
	// working passwords. Only the command line tool sets it.
	IncludePasswordHashes bool
	// Batch is the number of users per query (0: DefaultBatch).
	Batch int
	// Progress, when set, is called after each batch with the number of
	// users written so far.
	Progress func(done int)
}

// Result says what was written.
type Result struct {
	Rows int
}

// Prepare validates o and fills its defaults, without reading anything:
// callers that run the export later (jobs) check the request first.
func Prepare(o Options) (Options, error) {
	if o.Format == "" {
		o.Format = JSON
	}
	if _, err := ParseFormat(string(o.Format)); err != nil {
		return o, err
	}
	if o.Limit < 0 {
		return o, &identity.ValidationError{Field: "limit", Message: "limit must not be negative"}
	}
	if len(o.Fields) == 0 {
		o.Fields = DefaultFields(o.Format)
		if o.IncludePasswordHashes {
			o.Fields = append(o.Fields, Field{Name: "password_hash"}, Field{Name: "custom_password_hash"})
		}
	}
	if _, err := columns(o.Fields, o); err != nil {
		return o, err
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	return o, nil
}

// Count returns the number of users an export with o would write.
func Count(ctx context.Context, db *ent.Client, o Options) (int, error) {
	q := db.User.Query()
	if o.ConnectionID != "" {
		q = q.Where(user.HasIdentitiesWith(entidentity.ConnectionID(o.ConnectionID)))
	}
	n, err := q.Count(ctx)
	if err != nil {
		return 0, err
	}
	if o.Limit > 0 && n > o.Limit {
		n = o.Limit
	}
	return n, nil
}

// Export writes the users o selects to w, gzip-compressed. ctx must allow
// reading every user (the system context for jobs and the command line).
// w receives a complete gzip stream only when Export returns nil.
func Export(ctx context.Context, db *ent.Client, w io.Writer, o Options) (Result, error) {
	o, err := Prepare(o)
	if err != nil {
		return Result{}, err
	}
	cols, err := columns(o.Fields, o)
	if err != nil {
		return Result{}, err
	}
	names, err := connectionNames(ctx, db)
	if err != nil {
		return Result{}, err
	}
	// Speed over ratio: an export is a transfer file, and the default
	// level would make compression the bottleneck of a large export.
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	bw := bufio.NewWriterSize(zw, 64<<10)
	enc := newEncoder(o.Format, bw, cols)
	if err := enc.header(); err != nil {
		return Result{}, err
	}
	var (
		res   Result
		after pulid.ID
	)
	idCols := []string{entidentity.FieldID, entidentity.FieldOwnerID, entidentity.FieldConnectionID, entidentity.FieldProvider,
		entidentity.FieldUpstreamID, entidentity.FieldIsSocial, entidentity.FieldProfileData, entidentity.FieldCreatedAt}
	if o.IncludePasswordHashes {
		idCols = append(idCols, entidentity.FieldPasswordHash)
	}
	for o.Limit == 0 || res.Rows < o.Limit {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		n := o.Batch
		if o.Limit > 0 && o.Limit-res.Rows < n {
			n = o.Limit - res.Rows
		}
		q := db.User.Query().Order(user.ByID()).Limit(n)
		if after != "" {
			q = q.Where(user.IDGT(after))
		}
		if o.ConnectionID != "" {
			q = q.Where(user.HasIdentitiesWith(entidentity.ConnectionID(o.ConnectionID)))
		}
		us, err := q.All(ctx)
		if err != nil {
			return res, err
		}
		if len(us) == 0 {
			break
		}
		ids := make([]pulid.ID, len(us))
		for i, u := range us {
			ids[i] = u.ID
		}
		idents, err := db.Identity.Query().Where(entidentity.OwnerIDIn(ids...)).Select(idCols...).All(ctx)
		if err != nil {
			return res, err
		}
		byOwner := make(map[pulid.ID][]*ent.Identity, len(us))
		for _, idn := range idents {
			byOwner[idn.OwnerID] = append(byOwner[idn.OwnerID], idn)
		}
		for _, u := range us {
			r := row{u: u, idents: sortIdentities(u, byOwner[u.ID]), names: names, conn: o.ConnectionID}
			if err := enc.row(&r); err != nil {
				return res, err
			}
			res.Rows++
		}
		after = us[len(us)-1].ID
		if o.Progress != nil {
			o.Progress(res.Rows)
		}
		if len(us) < n {
			break
		}
	}
	if err := enc.flush(); err != nil {
		return res, err
	}
	if err := bw.Flush(); err != nil {
		return res, err
	}
	return res, zw.Close()
}

// connectionNames maps every connection to its name: a tenant has few.
func connectionNames(ctx context.Context, db *ent.Client) (map[pulid.ID]string, error) {
	cs, err := db.Connection.Query().Select(connection.FieldID, connection.FieldName).All(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[pulid.ID]string, len(cs))
	for _, c := range cs {
		m[c.ID] = c.Name
	}
	return m, nil
}

// sortIdentities puts the primary identity (whose provider|id is the
// user's user_id) first, then the others by age, as the API lists them:
// identities[0] is the primary identity.
func sortIdentities(u *ent.User, idents []*ent.Identity) []*ent.Identity {
	primary := func(idn *ent.Identity) bool { return idn.Provider+"|"+idn.UpstreamID == u.UserID }
	slices.SortStableFunc(idents, func(x, y *ent.Identity) int {
		if px, py := primary(x), primary(y); px != py {
			if px {
				return -1
			}
			return 1
		}
		if c := x.CreatedAt.Compare(y.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(string(x.ID), string(y.ID))
	})
	return idents
}

// row is one user being written.
type row struct {
	u      *ent.User
	idents []*ent.Identity
	names  map[pulid.ID]string
	conn   pulid.ID
	// identities in Auth0's shape, built on first use.
	identities []any
}

func auth0Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// value returns the value of a column for the row: nil when absent.
func (r *row) value(c column) any {
	v := r.root(c.root)
	if len(c.rest) == 0 || v == nil {
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		return walk(x, c.rest)
	case []any:
		return walk(x, c.rest)
	case json.RawMessage:
		var d any
		if json.Unmarshal(x, &d) != nil {
			return nil
		}
		return walk(d, c.rest)
	}
	return nil
}

func (r *row) root(name string) any {
	u := r.u
	str := func(p *string) any {
		if p == nil {
			return nil
		}
		return *p
	}
	switch name {
	case "user_id":
		return u.UserID
	case "email":
		return str(u.Email)
	case "email_verified":
		return u.EmailVerified
	case "username":
		return str(u.Username)
	case "phone_number":
		return str(u.PhoneNumber)
	case "phone_verified":
		if u.PhoneNumber == nil {
			return nil
		}
		return u.PhoneVerified
	case "name":
		return str(u.Name)
	case "given_name":
		return str(u.GivenName)
	case "family_name":
		return str(u.FamilyName)
	case "nickname":
		return str(u.Nickname)
	case "picture":
		return str(u.Picture)
	case "blocked":
		return u.Blocked
	case "created_at":
		return auth0Time(u.CreatedAt)
	case "updated_at":
		return auth0Time(u.UpdatedAt)
	case "last_login":
		if u.LastLogin == nil {
			return nil
		}
		return auth0Time(*u.LastLogin)
	case "last_password_reset":
		if u.LastPasswordReset == nil {
			return nil
		}
		return auth0Time(*u.LastPasswordReset)
	case "last_ip":
		return str(u.LastIP)
	case "logins_count":
		return u.LoginsCount
	case "app_metadata":
		if u.AppMetadata == nil {
			return map[string]any{}
		}
		return u.AppMetadata
	case "user_metadata":
		if u.UserMetadata == nil {
			return map[string]any{}
		}
		return u.UserMetadata
	case "identities":
		if r.identities == nil {
			r.identities = make([]any, 0, len(r.idents))
			for _, idn := range r.idents {
				m := map[string]any{
					"connection": r.names[idn.ConnectionID], "user_id": idn.UpstreamID,
					"provider": idn.Provider, "isSocial": idn.IsSocial,
				}
				if len(idn.ProfileData) > 0 {
					m["profileData"] = idn.ProfileData
				}
				r.identities = append(r.identities, m)
			}
		}
		return r.identities
	case "password_hash", "custom_password_hash":
		stored := r.passwordHash()
		if stored == "" {
			return nil
		}
		plain, custom := exportHash(stored)
		if name == "password_hash" {
			if plain == "" {
				return nil
			}
			return plain
		}
		if len(custom) == 0 {
			return nil
		}
		return custom
	}
	return nil
}

// passwordHash is the stored hash of the identity a re-import recreates:
// the one at the exported connection, or else the first with a password.
func (r *row) passwordHash() string {
	for _, idn := range r.idents {
		if idn.PasswordHash != nil && (r.conn == "" || idn.ConnectionID == r.conn) {
			return *idn.PasswordHash
		}
	}
	return ""
}

// encoder writes rows in one format.
type encoder interface {
	header() error
	row(*row) error
	flush() error
}

func newEncoder(f Format, w *bufio.Writer, cols []column) encoder {
	if f == CSV {
		return &csvEncoder{w: csv.NewWriter(w), cols: cols, cells: make([]string, len(cols))}
	}
	keys := make([][]byte, len(cols))
	for i, c := range cols {
		k, _ := json.Marshal(c.key)
		keys[i] = append(k, ':')
	}
	return &jsonEncoder{w: w, cols: cols, keys: keys}
}

// jsonEncoder writes one object per line, keys in field order, absent
// values left out (as Auth0's export does).
type jsonEncoder struct {
	w    *bufio.Writer
	cols []column
	keys [][]byte
	buf  []byte
}

func (e *jsonEncoder) header() error { return nil }
func (e *jsonEncoder) flush() error  { return nil }

func (e *jsonEncoder) row(r *row) error {
	b := append(e.buf[:0], '{')
	first := true
	for i, c := range e.cols {
		v := r.value(c)
		if v == nil {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, e.keys[i]...)
		var err error
		if b, err = appendJSON(b, v); err != nil {
			return err
		}
	}
	b = append(b, '}', '\n')
	e.buf = b
	_, err := e.w.Write(b)
	return err
}

// appendJSON appends v as json.Marshal writes it. The values of every row
// (strings, booleans, counts) take a path without allocations; strings
// that json.Marshal would escape, and objects, go through json.Marshal.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		if plainJSONString(x) {
			b = append(b, '"')
			b = append(b, x...)
			return append(b, '"'), nil
		}
	case bool:
		return strconv.AppendBool(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	}
	out, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, out...), nil
}

// plainJSONString reports whether json.Marshal writes s as it is, between
// quotes: printable ASCII without the characters it escapes (quote,
// backslash and, as HTML-safe, < > &).
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// csvEncoder writes a header row then one row per user. Objects and arrays
// are written as JSON text.
type csvEncoder struct {
	w     *csv.Writer
	cols  []column
	cells []string
}

func (e *csvEncoder) header() error {
	for i, c := range e.cols {
		e.cells[i] = EscapeCell(c.key)
	}
	return e.w.Write(e.cells)
}

func (e *csvEncoder) flush() error {
	e.w.Flush()
	return e.w.Error()
}

func (e *csvEncoder) row(r *row) error {
	for i, c := range e.cols {
		e.cells[i] = csvCell(r.value(c))
	}
	return e.w.Write(e.cells)
}

func csvCell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return EscapeCell(x)
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return EscapeCell(string(b))
}

// EscapeCell neutralizes CSV injection as OWASP recommends: a cell that a
// spreadsheet would read as a formula (starting with =, +, -, @, tab or
// carriage return) gets a leading apostrophe. Quotes and separators are
// the CSV writer's job.
func EscapeCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

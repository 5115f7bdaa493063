// Package ldap signs users in against an LDAP directory or Active Directory
// (strategy `ldap`): a service bind, a search for the user with the
// username escaped (ldap.EscapeFilter) that must return exactly one entry,
// then a bind as that entry's DN on a fresh connection.
package ldap

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/connectors/mapping"
	"github.com/authgraph/authgraph/outbound"
	goldap "github.com/go-ldap/ldap/v3"
)

// Provider is the provider of LDAP/AD users: user_id "ad|<connection>|<id>".
const Provider = "ad"

// Presets.
const (
	PresetOpenLDAP        = "openldap"
	PresetActiveDirectory = "active_directory"
)

// Config is an `ldap` connection's options (docs/CONNECTIONS.md). Example:
//
//	{
//	  "url": "ldaps://ldap.corp.example:636",
//	  "bind_dn": "cn=authgraph,ou=system,dc=corp,dc=example",
//	  "bind_password": "…",
//	  "user_search_base": "ou=people,dc=corp,dc=example",
//	  "user_search_filter": "(&(objectClass=inetOrgPerson)(uid={username}))",
//	  "group_search_base": "ou=groups,dc=corp,dc=example",
//	  "group_search_filter": "(member={dn})",
//	  "preset": "openldap",
//	  "domain_aliases": ["corp.example"]
//	}
type Config struct {
	// Connection is the connection's name (part of user ids).
	Connection string
	// URL is ldap://host[:389] or ldaps://host[:636].
	URL string
	// StartTLS upgrades an ldap:// connection before any bind.
	StartTLS bool
	// AllowInsecure permits plain ldap:// without StartTLS (loopback tests,
	// never production: the password would cross the network in clear).
	AllowInsecure bool
	// BindDN and BindPassword are the service account; empty means an
	// anonymous search.
	BindDN, BindPassword string
	// UserSearchBase and UserSearchFilter find the user; {username} in the
	// filter is replaced by the escaped username. Default filter by preset:
	// (uid={username}) or (sAMAccountName={username}).
	UserSearchBase, UserSearchFilter string
	// UsernameAttribute is the attribute holding the login name (uid,
	// sAMAccountName by preset).
	UsernameAttribute string
	// GroupSearchBase and GroupSearchFilter look groups up ({dn} and
	// {username}, escaped, are replaced); without a base, groups come from
	// the user's memberOf.
	GroupSearchBase, GroupSearchFilter string
	// Preset is openldap (default) or active_directory.
	Preset string
	// CACert is a PEM bundle to trust instead of the system roots.
	CACert string
	// DomainAliases: emails in these domains count as verified.
	DomainAliases []string
	// Mapping overrides the default attribute table (connectors/mapping.LDAP).
	Mapping map[string]any
	// Timeout bounds each network operation (default 10s).
	Timeout time.Duration
}

// FromOptions builds a Config from a connection's options and opened secrets.
func FromOptions(name string, opts, secrets map[string]any) Config {
	s := func(m map[string]any, k string) string { v, _ := m[k].(string); return v }
	b := func(k string) bool { v, _ := opts[k].(bool); return v }
	return Config{
		Connection: name, URL: s(opts, "url"), StartTLS: b("start_tls"), AllowInsecure: b("allow_insecure"),
		BindDN: s(opts, "bind_dn"), BindPassword: s(secrets, "bind_password"),
		UserSearchBase: s(opts, "user_search_base"), UserSearchFilter: s(opts, "user_search_filter"),
		UsernameAttribute: s(opts, "username_attribute"),
		GroupSearchBase:   s(opts, "group_search_base"), GroupSearchFilter: s(opts, "group_search_filter"),
		Preset: s(opts, "preset"), CACert: s(opts, "ca_cert"),
		DomainAliases: mapping.Strings(opts["domain_aliases"]),
	}
}

// Connector is an LDAP PasswordConnector.
type Connector struct {
	cfg   Config
	url   *url.URL
	tls   *tls.Config
	table mapping.Table
	// pool holds idle service-account connections (only those: user binds
	// always use a fresh connection, so a user's identity never leaks into a
	// pooled one).
	pool chan *goldap.Conn

	// userBind is a running average of how long the user-bind step takes, so
	// an unknown user is answered no sooner than a wrong password.
	mu      sync.Mutex
	bindAvg time.Duration
}

var (
	_ connectors.PasswordConnector = (*Connector)(nil)
	_ connectors.RefreshConnector  = (*Connector)(nil)
)

// New validates cfg.
func New(cfg Config) (*Connector, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: ldap: %s", connectors.ErrConfig, fmt.Sprintf(format, args...))
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || (u.Scheme != "ldap" && u.Scheme != "ldaps") {
		return nil, bad("url must be ldap://host or ldaps://host")
	}
	if u.Scheme == "ldap" && !cfg.StartTLS && !cfg.AllowInsecure {
		return nil, bad("plain ldap:// sends passwords in clear: set start_tls, use ldaps://, or set allow_insecure")
	}
	if u.Scheme == "ldaps" && cfg.StartTLS {
		return nil, bad("start_tls applies to ldap:// only")
	}
	if cfg.UserSearchBase == "" {
		return nil, bad("user_search_base is required")
	}
	switch cfg.Preset {
	case "", PresetOpenLDAP:
		cfg.Preset = PresetOpenLDAP
		if cfg.UsernameAttribute == "" {
			cfg.UsernameAttribute = "uid"
		}
	case PresetActiveDirectory:
		if cfg.UsernameAttribute == "" {
			cfg.UsernameAttribute = "sAMAccountName"
		}
	default:
		return nil, bad("unknown preset %q", cfg.Preset)
	}
	if cfg.UserSearchFilter == "" {
		cfg.UserSearchFilter = "(" + cfg.UsernameAttribute + "={username})"
	}
	if !strings.Contains(cfg.UserSearchFilter, "{username}") {
		return nil, bad("user_search_filter must contain {username}")
	}
	if cfg.GroupSearchBase != "" && cfg.GroupSearchFilter == "" {
		cfg.GroupSearchFilter = "(member={dn})"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	tc := &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	if cfg.CACert != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(cfg.CACert)) {
			return nil, bad("ca_cert holds no PEM certificate")
		}
		tc.RootCAs = pool
	}
	table := mapping.LDAP.Clone()
	table[mapping.FieldUsername] = []string{cfg.UsernameAttribute}
	if cfg.Preset == PresetActiveDirectory {
		table[mapping.FieldUserID] = []string{"objectGUID"}
	} else {
		table[mapping.FieldUserID] = []string{"entryUUID"}
	}
	if len(cfg.Mapping) > 0 {
		if table, err = mapping.Override(table, cfg.Mapping); err != nil {
			return nil, err
		}
	}
	return &Connector{cfg: cfg, url: u, tls: tc, table: table, pool: make(chan *goldap.Conn, 4)}, nil
}

// Close drops the pooled connections.
func (c *Connector) Close() {
	for {
		select {
		case conn := <-c.pool:
			conn.Close()
		default:
			return
		}
	}
}

// dial opens a connection, upgraded with StartTLS when configured.
func (c *Connector) dial(ctx context.Context) (*goldap.Conn, error) {
	// The directory may be private, never a metadata or link-local address.
	sd := outbound.NewServiceDialer(c.cfg.Timeout)
	d := &sd.Dialer
	if dl, ok := ctx.Deadline(); ok {
		d.Deadline = dl
	}
	conn, err := goldap.DialURL(c.url.String(), goldap.DialWithDialer(d), goldap.DialWithTLSConfig(c.tls))
	if err != nil {
		return nil, connectors.Unavailable(err)
	}
	conn.SetTimeout(c.cfg.Timeout)
	if c.cfg.StartTLS {
		if err := conn.StartTLS(c.tls); err != nil {
			conn.Close()
			return nil, connectors.Unavailable(fmt.Errorf("StartTLS: %w", err))
		}
	}
	return conn, nil
}

// service returns a service-bound connection (pooled or new).
func (c *Connector) service(ctx context.Context) (*goldap.Conn, error) {
	select {
	case conn := <-c.pool:
		if !conn.IsClosing() {
			return conn, nil
		}
		conn.Close()
	default:
	}
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	if c.cfg.BindDN != "" {
		if err := conn.Bind(c.cfg.BindDN, c.cfg.BindPassword); err != nil {
			conn.Close()
			if goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
				return nil, fmt.Errorf("%w: ldap: the service account's bind was refused", connectors.ErrConfig)
			}
			return nil, connectors.Unavailable(fmt.Errorf("service bind: %w", err))
		}
	}
	return conn, nil
}

func (c *Connector) release(conn *goldap.Conn, broken bool) {
	if broken || conn.IsClosing() {
		conn.Close()
		return
	}
	select {
	case c.pool <- conn:
	default:
		conn.Close()
	}
}

// networkError reports errors that mean the connection (not the request)
// failed.
func networkError(err error) bool {
	return goldap.IsErrorWithCode(err, goldap.ErrorNetwork) || goldap.IsErrorWithCode(err, goldap.LDAPResultServerDown) ||
		goldap.IsErrorWithCode(err, goldap.LDAPResultUnavailable) || goldap.IsErrorWithCode(err, goldap.LDAPResultBusy)
}

// search runs req on a service connection, retrying once on a fresh one
// when a pooled connection turns out dead.
func (c *Connector) search(ctx context.Context, req *goldap.SearchRequest) (*goldap.SearchResult, error) {
	for attempt := 0; ; attempt++ {
		conn, err := c.service(ctx)
		if err != nil {
			return nil, err
		}
		res, err := conn.Search(req)
		if err != nil && networkError(err) {
			c.release(conn, true)
			if attempt == 0 {
				continue
			}
			return nil, connectors.Unavailable(err)
		}
		c.release(conn, false)
		if goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) {
			return res, nil // more than one entry: the caller refuses
		}
		return res, err
	}
}

// userAttributes are requested explicitly: entryUUID and memberOf are
// operational and "*" does not return them.
var userAttributes = []string{"*", "entryUUID", "objectGUID", "memberOf"}

// dropped attributes are never part of the profile.
var dropped = map[string]bool{"userpassword": true, "unicodepwd": true, "jpegphoto": true, "thumbnailphoto": true,
	"objectsid": true, "usercertificate": true, "msexchmailboxsecuritydescriptor": true}

// Login implements connectors.PasswordConnector.
func (c *Connector) Login(ctx context.Context, username, password string) (connectors.Identity, error) {
	var none connectors.Identity
	username = strings.TrimSpace(username)
	// An empty password would be an unauthenticated bind, which many servers
	// accept as success (RFC 4513 §5.1.2): refuse before any bind.
	if username == "" || password == "" || !utf8.ValidString(username) || len(username) > 256 {
		return none, &connectors.CredentialsError{Reason: connectors.ReasonEmptyPassword, Unknown: username == ""}
	}
	filter := strings.ReplaceAll(c.cfg.UserSearchFilter, "{username}", goldap.EscapeFilter(username))
	res, err := c.search(ctx, goldap.NewSearchRequest(c.cfg.UserSearchBase, goldap.ScopeWholeSubtree,
		goldap.NeverDerefAliases, 2, int(c.cfg.Timeout/time.Second), false, filter, userAttributes, nil))
	if err != nil {
		if errors.Is(err, connectors.ErrUnavailable) || errors.Is(err, connectors.ErrConfig) {
			return none, err
		}
		return none, connectors.Unavailable(fmt.Errorf("user search: %w", err))
	}
	if len(res.Entries) != 1 {
		reason := connectors.ReasonUnknownUser
		if len(res.Entries) > 1 {
			reason = connectors.ReasonAmbiguousUser
		}
		c.equalize(ctx, password)
		return none, &connectors.CredentialsError{Reason: reason, Unknown: true}
	}
	entry := res.Entries[0]

	start := time.Now()
	err = c.userBind(ctx, entry.DN, password)
	c.record(time.Since(start))
	if err != nil {
		return none, err
	}
	return c.identity(ctx, entry)
}

// userBind binds as dn on a fresh connection, never pooled.
func (c *Connector) userBind(ctx context.Context, dn, password string) error {
	conn, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Bind(dn, password); err != nil {
		if goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
			return &connectors.CredentialsError{Reason: adReason(err)}
		}
		if networkError(err) {
			return connectors.Unavailable(fmt.Errorf("user bind: %w", err))
		}
		return &connectors.CredentialsError{Reason: connectors.ReasonWrongPassword + ": " + shortErr(err)}
	}
	return nil
}

// equalize makes an unknown user's answer cost what a wrong password does: a
// bind on a fresh connection as a DN that does not exist, then a wait up to
// the average user-bind time.
func (c *Connector) equalize(ctx context.Context, password string) {
	start := time.Now()
	var b [8]byte
	rand.Read(b[:])
	_ = c.userBind(ctx, "cn=authgraph-no-such-user-"+hex.EncodeToString(b[:])+","+c.cfg.UserSearchBase, password)
	c.mu.Lock()
	avg := c.bindAvg
	c.mu.Unlock()
	if wait := avg - time.Since(start); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
}

func (c *Connector) record(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bindAvg == 0 {
		c.bindAvg = d
		return
	}
	c.bindAvg = (c.bindAvg*7 + d) / 8
}

// AD reports why a bind failed as "data 52e" etc. in the diagnostic message.
var adCode = regexp.MustCompile(`data ([0-9a-fA-F]{3,4})`)

// adReason maps Active Directory's bind sub-codes to reasons (for logs; the
// user sees one generic failure).
func adReason(err error) string {
	m := adCode.FindStringSubmatch(err.Error())
	if m == nil {
		return connectors.ReasonWrongPassword
	}
	switch strings.ToLower(m[1]) {
	case "525":
		return connectors.ReasonUnknownUser
	case "52e":
		return connectors.ReasonWrongPassword
	case "530", "531":
		return connectors.ReasonNotPermitted
	case "532":
		return connectors.ReasonPasswordExpired
	case "533":
		return connectors.ReasonAccountDisabled
	case "701":
		return connectors.ReasonAccountExpired
	case "773":
		return connectors.ReasonMustChange
	case "775":
		return connectors.ReasonAccountLocked
	}
	return connectors.ReasonWrongPassword + " (AD code " + m[1] + ")"
}

// ADReason is exported for tests of the sub-code table.
func ADReason(diagnostic string) string { return adReason(errors.New(diagnostic)) }

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// identity normalizes entry.
func (c *Connector) identity(ctx context.Context, entry *goldap.Entry) (connectors.Identity, error) {
	raw := map[string]any{"dn": entry.DN}
	for _, a := range entry.Attributes {
		name := a.Name
		if dropped[strings.ToLower(name)] {
			continue
		}
		if strings.EqualFold(name, "objectGUID") && len(a.ByteValues) == 1 {
			raw["objectGUID"] = formatGUID(a.ByteValues[0])
			continue
		}
		var vals []any
		for _, v := range a.Values {
			if utf8.ValidString(v) {
				vals = append(vals, v)
			}
		}
		switch len(vals) {
		case 0:
		case 1:
			raw[name] = vals[0]
		default:
			raw[name] = vals
		}
	}
	groups, err := c.groups(ctx, entry)
	if err != nil {
		return connectors.Identity{}, err
	}
	if len(groups) > 0 {
		raw["groups"] = groups
	}
	id := connectors.Identity{Provider: Provider, Raw: raw}
	mapping.Apply(&id, c.table, raw)
	if id.UserID == "" {
		return connectors.Identity{}, connectors.Invalid("ldap: entry %s has no stable id attribute (%s)", entry.DN, strings.Join(c.table[mapping.FieldUserID], ", "))
	}
	id.UserID = c.cfg.Connection + "|" + id.UserID
	id.Groups = groups
	id.EmailVerified = id.Email != "" && mapping.VerifiedByDomain(id.Email, c.cfg.DomainAliases)
	return id, nil
}

// groups are the CNs of the user's groups: from a group search when
// configured, else from memberOf.
func (c *Connector) groups(ctx context.Context, entry *goldap.Entry) ([]string, error) {
	if c.cfg.GroupSearchBase == "" {
		var out []string
		for _, dn := range entry.GetAttributeValues("memberOf") {
			out = append(out, cnOf(dn))
		}
		return out, nil
	}
	filter := strings.NewReplacer("{dn}", goldap.EscapeFilter(entry.DN),
		"{username}", goldap.EscapeFilter(entry.GetAttributeValue(c.cfg.UsernameAttribute))).Replace(c.cfg.GroupSearchFilter)
	res, err := c.search(ctx, goldap.NewSearchRequest(c.cfg.GroupSearchBase, goldap.ScopeWholeSubtree,
		goldap.NeverDerefAliases, 1000, int(c.cfg.Timeout/time.Second), false, filter, []string{"cn"}, nil))
	if err != nil {
		if errors.Is(err, connectors.ErrUnavailable) {
			return nil, err
		}
		return nil, connectors.Unavailable(fmt.Errorf("group search: %w", err))
	}
	var out []string
	for _, e := range res.Entries {
		if cn := e.GetAttributeValue("cn"); cn != "" {
			out = append(out, cn)
		} else {
			out = append(out, cnOf(e.DN))
		}
	}
	return out, nil
}

// Refresh implements connectors.RefreshConnector: the entry is looked up
// again by its stored DN's username (no password).
func (c *Connector) Refresh(ctx context.Context, ident connectors.Identity) (connectors.Identity, error) {
	username, _ := ident.Raw[c.cfg.UsernameAttribute].(string)
	if username == "" {
		return connectors.Identity{}, connectors.Invalid("ldap: identity has no %s to refresh by", c.cfg.UsernameAttribute)
	}
	filter := strings.ReplaceAll(c.cfg.UserSearchFilter, "{username}", goldap.EscapeFilter(username))
	res, err := c.search(ctx, goldap.NewSearchRequest(c.cfg.UserSearchBase, goldap.ScopeWholeSubtree,
		goldap.NeverDerefAliases, 2, int(c.cfg.Timeout/time.Second), false, filter, userAttributes, nil))
	if err != nil {
		return connectors.Identity{}, err
	}
	if len(res.Entries) != 1 {
		return connectors.Identity{}, &connectors.CredentialsError{Reason: connectors.ReasonUnknownUser, Unknown: true}
	}
	return c.identity(ctx, res.Entries[0])
}

func cnOf(dn string) string {
	parsed, err := goldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) == 0 {
		return dn
	}
	for _, a := range parsed.RDNs[0].Attributes {
		if strings.EqualFold(a.Type, "cn") {
			return a.Value
		}
	}
	return dn
}

// formatGUID renders AD's objectGUID (little-endian first three fields) as
// the usual 8-4-4-4-12 string.
func formatGUID(b []byte) string {
	if len(b) != 16 {
		return hex.EncodeToString(b)
	}
	return fmt.Sprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15])
}

package ldap

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/outbound"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func config(s *testenv.SlapdServer) Config {
	return Config{
		Connection: "corp", URL: s.URL, AllowInsecure: true,
		BindDN: "cn=reader,ou=system," + s.Suffix, BindPassword: "reader-pw",
		UserSearchBase: "ou=people," + s.Suffix, DomainAliases: []string{"example.org"},
	}
}

func newConnector(t *testing.T, cfg Config) *Connector {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func wantCreds(t *testing.T, err error, unknown bool) {
	t.Helper()
	var ce *connectors.CredentialsError
	if !errors.As(err, &ce) || !errors.Is(err, connectors.ErrInvalidCredentials) {
		t.Fatalf("want a credentials error, got %v", err)
	}
	if ce.Unknown != unknown {
		t.Fatalf("Unknown = %v (%s), want %v", ce.Unknown, ce.Reason, unknown)
	}
}

func TestLogin(t *testing.T) {
	s := testenv.StartSlapd(t, testenv.SlapdOptions{})
	ctx := context.Background()
	c := newConnector(t, config(s))

	id, err := c.Login(ctx, "alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	uuid, _ := id.Raw["entryUUID"].(string)
	if uuid == "" || id.UserID != "corp|"+uuid || id.Provider != "ad" || id.FullUserID() != "ad|corp|"+uuid {
		t.Fatalf("id: %q %q", id.UserID, uuid)
	}
	if id.Email != "alice@example.org" || !id.EmailVerified || id.GivenName != "Alice" || id.FamilyName != "Liddell" ||
		id.Name != "Alice Liddell" || id.Nickname != "alice" || id.Username != "alice" {
		t.Fatalf("profile: %+v", id)
	}
	slices.Sort(id.Groups)
	if strings.Join(id.Groups, ",") != "admins,engineers" {
		t.Fatalf("groups (memberOf): %v", id.Groups)
	}
	if _, ok := id.Raw["userPassword"]; ok {
		t.Fatal("userPassword in the profile")
	}

	// bob's address is outside domain_aliases: not verified.
	bob, err := c.Login(ctx, "bob", "bob-pw")
	if err != nil {
		t.Fatal(err)
	}
	if bob.Email != "bob@other.test" || bob.EmailVerified || bob.Name != "Bob Builder" {
		t.Fatalf("bob: %+v", bob)
	}

	_, err = c.Login(ctx, "alice", "wrong")
	wantCreds(t, err, false)
	_, err = c.Login(ctx, "nobody", "whatever")
	wantCreds(t, err, true)
	for _, pw := range []string{"", ""} {
		_, err = c.Login(ctx, "alice", pw)
		wantCreds(t, err, false)
	}
	// Injection: the filter metacharacters are escaped, so these match no
	// entry (and never a wildcard one).
	for _, u := range []string{"*", "*)(uid=*", "alice)(|(uid=*", "al*", `\2a`, "alice\x00"} {
		_, err = c.Login(ctx, u, "alice-pw")
		wantCreds(t, err, true)
	}
}

func TestGroupSearchAndStartTLS(t *testing.T) {
	s := testenv.StartSlapd(t, testenv.SlapdOptions{})
	ctx := context.Background()
	cfg := config(s)
	cfg.AllowInsecure, cfg.StartTLS, cfg.CACert = false, true, s.CACertPEM
	cfg.GroupSearchBase = "ou=groups," + s.Suffix
	c := newConnector(t, cfg)
	id, err := c.Login(ctx, "bob", "bob-pw")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(id.Groups, ",") != "engineers" {
		t.Fatalf("groups (search): %v", id.Groups)
	}
	carol, err := c.Login(ctx, "carol", "carol-pw")
	if err != nil {
		t.Fatal(err)
	}
	if len(carol.Groups) != 0 || carol.Email != "" {
		t.Fatalf("carol: %+v", carol)
	}

	// ldaps:// with the CA.
	cfg = config(s)
	cfg.URL, cfg.AllowInsecure, cfg.CACert = s.LDAPSURL, false, s.CACertPEM
	if _, err := newConnector(t, cfg).Login(ctx, "alice", "alice-pw"); err != nil {
		t.Fatal(err)
	}
	// ldaps:// without trusting the CA: unavailable, not a login failure.
	cfg.CACert = ""
	if _, err := newConnector(t, cfg).Login(ctx, "alice", "alice-pw"); !errors.Is(err, connectors.ErrUnavailable) {
		t.Fatalf("untrusted certificate: %v", err)
	}
}

func TestConfigRefusesPlainLDAP(t *testing.T) {
	_, err := New(Config{Connection: "x", URL: "ldap://127.0.0.1:389", UserSearchBase: "dc=x"})
	if !errors.Is(err, connectors.ErrConfig) || !strings.Contains(err.Error(), "allow_insecure") {
		t.Fatalf("plain ldap:// accepted: %v", err)
	}
	if _, err := New(Config{Connection: "x", URL: "ldap://127.0.0.1:389", UserSearchBase: "dc=x", StartTLS: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Connection: "x", URL: "ldaps://h", UserSearchBase: "dc=x", UserSearchFilter: "(uid=x)"}); err == nil {
		t.Fatal("filter without {username} accepted")
	}
}

// TestUnknownUserTakesAsLongAsWrongPassword alternates the two paths and
// compares each side's fastest answer: load from other processes only adds
// time, so the minimum is the work itself.
func TestUnknownUserTakesAsLongAsWrongPassword(t *testing.T) {
	s := testenv.StartSlapd(t, testenv.SlapdOptions{})
	ctx := context.Background()
	c := newConnector(t, config(s))
	c.Login(ctx, "alice", "warm-up")
	once := func(user string) time.Duration {
		start := time.Now()
		c.Login(ctx, user, "nope")
		return time.Since(start)
	}
	wrong, unknown := time.Duration(1<<62), time.Duration(1<<62)
	for range 20 {
		wrong = min(wrong, once("alice"))
		unknown = min(unknown, once("nobody"))
	}
	t.Logf("fastest wrong password %v, fastest unknown user %v", wrong, unknown)
	if unknown < wrong/2 {
		t.Fatalf("unknown user answered in %v, wrong password in %v", unknown, wrong)
	}
}

func TestDirectoryStopped(t *testing.T) {
	s := testenv.StartSlapd(t, testenv.SlapdOptions{})
	ctx := context.Background()
	c := newConnector(t, config(s))
	if _, err := c.Login(ctx, "alice", "alice-pw"); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	_, err := c.Login(ctx, "alice", "alice-pw")
	if !errors.Is(err, connectors.ErrUnavailable) || errors.Is(err, connectors.ErrInvalidCredentials) {
		t.Fatalf("directory down: %v", err)
	}
	if !strings.Contains(err.Error(), "connection unavailable") {
		t.Fatalf("message: %v", err)
	}
}

func TestServiceBindRefused(t *testing.T) {
	s := testenv.StartSlapd(t, testenv.SlapdOptions{})
	cfg := config(s)
	cfg.BindPassword = "wrong"
	_, err := newConnector(t, cfg).Login(context.Background(), "alice", "alice-pw")
	if !errors.Is(err, connectors.ErrConfig) {
		t.Fatalf("bad service password: %v", err)
	}
}

func TestADReasons(t *testing.T) {
	for diag, want := range map[string]string{
		"LDAP Result Code 49: 80090308: LdapErr: DSID-0C09042A, comment: AcceptSecurityContext error, data 52e, v3839": connectors.ReasonWrongPassword,
		"... data 533, v4563": connectors.ReasonAccountDisabled,
		"... data 775, v4563": connectors.ReasonAccountLocked,
		"... data 532, v4563": connectors.ReasonPasswordExpired,
		"... data 701, v4563": connectors.ReasonAccountExpired,
		"... data 773, v4563": connectors.ReasonMustChange,
		"... data 525, v4563": connectors.ReasonUnknownUser,
		"Invalid Credentials": connectors.ReasonWrongPassword,
	} {
		if got := ADReason(diag); got != want {
			t.Errorf("%s: %q, want %q", diag, got, want)
		}
	}
	if got := formatGUID([]byte{0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}); got != "00112233-4455-6677-8899-aabbccddeeff" {
		t.Errorf("guid %s", got)
	}
}

// BenchmarkLogin measures full logins (search + fresh-connection user bind
// + memberOf groups) against a real slapd on loopback.
func BenchmarkLogin(b *testing.B) {
	s := testenv.StartSlapd(b, testenv.SlapdOptions{})
	cfg := Config{Connection: "corp", URL: s.URL, AllowInsecure: true,
		BindDN: "cn=reader,ou=system," + s.Suffix, BindPassword: "reader-pw", UserSearchBase: "ou=people," + s.Suffix}
	c, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Login(ctx, "alice", "alice-pw"); err != nil {
			b.Fatal(err)
		}
	}
}

// A connection's url is written by whoever holds the connection scopes: it
// may name a private directory, never the cloud's metadata service.
func TestMetadataAddressIsNeverDialed(t *testing.T) {
	cfg := Config{Connection: "corp", URL: "ldap://169.254.169.254:389", AllowInsecure: true,
		UserSearchBase: "ou=people,dc=example,dc=com", Timeout: 2 * time.Second}
	_, err := newConnector(t, cfg).Login(context.Background(), "alice", "alice-pw")
	if !errors.Is(err, outbound.ErrAddressRefused) || !errors.Is(err, connectors.ErrUnavailable) {
		t.Fatalf("metadata address: %v", err)
	}
}

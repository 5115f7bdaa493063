package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SlapdServer is a real OpenLDAP slapd (Debian's `slapd` package) serving
// one mdb database with the memberOf overlay, plain ldap:// (StartTLS
// offered) and ldaps:// on free ports of 127.0.0.1, with a self-signed
// certificate for 127.0.0.1.
type SlapdServer struct {
	// URL is ldap://127.0.0.1:PORT (StartTLS available); LDAPSURL is
	// ldaps://127.0.0.1:PORT.
	URL, LDAPSURL string
	// Suffix is the database suffix (dc=example,dc=org).
	Suffix string
	// RootDN and RootPassword are the database's root account.
	RootDN, RootPassword string
	// CACertPEM is the server's self-signed certificate, to trust.
	CACertPEM string
	// Dir holds the configuration, the data and slapd.log.
	Dir string

	stopOnce sync.Once
	stop     func() error
}

// SlapdOptions configure StartSlapd.
type SlapdOptions struct {
	// LDIF is loaded (with ldapadd as the root DN) once slapd listens. It
	// must create the suffix entry first. Empty means SlapdFixture.
	LDIF string
}

// SlapdSuffix is the suffix of every test directory.
const SlapdSuffix = "dc=example,dc=org"

// SlapdFixture is a small directory: a service account
// (cn=reader,ou=system / reader-pw), users alice (alice-pw, in groups
// engineers and admins), bob (bob-pw, in engineers) and carol (carol-pw, in
// no group), and two groupOfNames groups.
const SlapdFixture = `dn: dc=example,dc=org
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=system,dc=example,dc=org
objectClass: organizationalUnit
ou: system

dn: cn=reader,ou=system,dc=example,dc=org
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: reader-pw

dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: uid=alice,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
givenName: Alice
displayName: Alice Liddell
mail: alice@example.org
userPassword: alice-pw

dn: uid=bob,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: bob
cn: Bob Builder
sn: Builder
givenName: Bob
mail: bob@other.test
userPassword: bob-pw

dn: uid=carol,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: carol
cn: Carol
sn: Carol
userPassword: carol-pw

dn: ou=groups,dc=example,dc=org
objectClass: organizationalUnit
ou: groups

dn: cn=engineers,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: engineers
member: uid=alice,ou=people,dc=example,dc=org
member: uid=bob,ou=people,dc=example,dc=org

dn: cn=admins,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: admins
member: uid=alice,ou=people,dc=example,dc=org
`

// findSlapd returns the slapd binary and the module directory.
func findSlapd() (bin, modules string, err error) {
	bin, err = exec.LookPath("slapd")
	if err != nil {
		bin = "/usr/sbin/slapd" // Debian keeps it off a normal user's PATH
		if _, statErr := os.Stat(bin); statErr != nil {
			return "", "", errors.New("slapd not found (Debian: apt-get install -y slapd ldap-utils)")
		}
	}
	if _, err := exec.LookPath("ldapadd"); err != nil {
		return "", "", errors.New("ldapadd not found (Debian: apt-get install -y ldap-utils)")
	}
	for _, dir := range []string{"/usr/lib/ldap", "/usr/lib/openldap", "/usr/libexec/openldap"} {
		if _, err := os.Stat(filepath.Join(dir, "back_mdb.so")); err == nil {
			return bin, dir, nil
		}
	}
	return "", "", errors.New("slapd's back_mdb module not found in /usr/lib/ldap")
}

// StartSlapd starts a slapd for this test only, loaded with opts.LDIF, and
// stops it (removing its files) when the test ends. It skips the test when
// slapd is not installed, and fails it under CI=true.
func StartSlapd(t testing.TB, opts SlapdOptions) *SlapdServer {
	t.Helper()
	bin, modules, err := findSlapd()
	Require(t, "OpenLDAP slapd", err)
	if opts.LDIF == "" {
		opts.LDIF = SlapdFixture
	}
	dir, err := os.MkdirTemp("", "authgraph-slapd-")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var s *SlapdServer
	for range 3 { // a free port can be taken before slapd binds it
		s, err = startSlapd(bin, modules, dir, opts)
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("testenv: starting slapd: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Logf("testenv: stopping slapd: %v", err)
		}
	})
	return s
}

// Stop shuts slapd down (tests use it to take the directory away mid-test).
// Calling it again does nothing.
func (s *SlapdServer) Stop() error {
	var err error
	s.stopOnce.Do(func() { err = s.stop() })
	return err
}

func startSlapd(bin, modules, dir string, opts SlapdOptions) (*SlapdServer, error) {
	certPEM, err := writeSelfSigned(dir)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	const rootPW = "root-secret"
	conf := strings.Join([]string{
		"include /etc/ldap/schema/core.schema",
		"include /etc/ldap/schema/cosine.schema",
		"include /etc/ldap/schema/inetorgperson.schema",
		"include /etc/ldap/schema/nis.schema",
		"modulepath " + modules,
		"moduleload back_mdb",
		"moduleload memberof",
		"pidfile " + filepath.Join(dir, "slapd.pid"),
		"TLSCertificateFile " + filepath.Join(dir, "cert.pem"),
		"TLSCertificateKeyFile " + filepath.Join(dir, "key.pem"),
		"database mdb",
		"maxsize 104857600",
		`suffix "` + SlapdSuffix + `"`,
		`rootdn "cn=admin,` + SlapdSuffix + `"`,
		"rootpw " + rootPW,
		"directory " + data,
		"overlay memberof",
		"access to attrs=userPassword by self write by anonymous auth by * none",
		"access to * by * read",
		"",
	}, "\n")
	confPath := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	p1, err := freePort()
	if err != nil {
		return nil, err
	}
	p2, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &SlapdServer{
		URL:      "ldap://127.0.0.1:" + strconv.Itoa(p1),
		LDAPSURL: "ldaps://127.0.0.1:" + strconv.Itoa(p2),
		Suffix:   SlapdSuffix, RootDN: "cn=admin," + SlapdSuffix, RootPassword: rootPW,
		CACertPEM: certPEM, Dir: dir,
	}
	logPath := filepath.Join(dir, "slapd.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	// -d keeps slapd in the foreground, as our child: it gets the
	// parent-death signal, so a killed test binary leaves no server behind.
	cmd := exec.Command(bin, "-d", "0", "-f", confPath, "-h", s.URL+"/ "+s.LDAPSURL+"/")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = slapdProcAttr()
	started, exited := make(chan error, 1), make(chan struct{})
	go func() {
		runtime.LockOSThread() // see runServer: Pdeathsig follows the forking thread
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	s.stop = func() error {
		select {
		case <-exited:
			return nil
		default:
		}
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			return err
		}
		select {
		case <-exited:
			return nil
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
			return errors.New("slapd did not stop in 10s; killed")
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.URL[len("ldap://"):], time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("slapd exited during startup: %s", tail(log, 2000))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, errors.New("slapd not listening after 20s")
		}
	}
	add := exec.Command("ldapadd", "-x", "-H", s.URL, "-D", s.RootDN, "-w", rootPW)
	add.Stdin = strings.NewReader(opts.LDIF)
	add.Env = append(os.Environ(), "LDAPNOINIT=1") // ignore any ldap.conf/.ldaprc
	if out, err := add.CombinedOutput(); err != nil {
		s.stop()
		return nil, fmt.Errorf("loading the LDIF: %v\n%s", err, out)
	}
	return s, nil
}

// writeSelfSigned writes cert.pem and key.pem for 127.0.0.1/localhost into
// dir and returns the certificate PEM.
func writeSelfSigned(dir string) (string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), []byte(certPEM), 0o600); err != nil {
		return "", err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
	return certPEM, os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600)
}

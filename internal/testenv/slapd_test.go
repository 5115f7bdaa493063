package testenv

import (
	"os/exec"
	"strings"
	"testing"
)

func TestStartSlapd(t *testing.T) {
	s := StartSlapd(t, SlapdOptions{})
	out, err := exec.Command("ldapsearch", "-x", "-LLL", "-H", s.URL, "-b", s.Suffix, "(uid=alice)", "memberOf", "entryUUID").CombinedOutput()
	if err != nil {
		t.Fatalf("ldapsearch: %v\n%s", err, out)
	}
	for _, want := range []string{"memberOf: cn=engineers", "memberOf: cn=admins", "entryUUID: "} {
		if !strings.Contains(string(out), want) {
			t.Errorf("alice lacks %q:\n%s", want, out)
		}
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ldapsearch", "-x", "-H", s.URL, "-b", s.Suffix).CombinedOutput(); err == nil {
		t.Fatalf("stopped slapd still answers:\n%s", out)
	}
}

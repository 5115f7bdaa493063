package clients

import (
	"errors"
	"testing"
)

func TestValidateRedirectURI(t *testing.T) {
	good := []string{
		"https://app.example.com/cb",
		"https://app.example.com:8443/cb?x=1",
		"http://127.0.0.1:9/callback",
		"http://127.0.0.2/cb",
		"http://localhost:3000/cb",
		"http://[::1]:8080/cb",
		"com.example.app:/oauth2redirect",
		"com.example.app://callback",
		"io.github.someone.app:/cb",
	}
	for _, u := range good {
		if err := ValidateRedirectURI(FieldRedirectURIs, u); err != nil {
			t.Errorf("%q refused: %v", u, err)
		}
	}
	bad := []string{
		"", "javascript:alert(1)", "JavaScript:alert(1)", "javascript://example.com/%0aalert(1)", "data:text/html,<script>alert(1)</script>",
		"vbscript:msgbox(1)", "file:///etc/passwd", "http://app.example.com/cb", "http://127.0.0.1.nip.io/cb", "http://10.0.0.1/cb",
		"https://app.example.com/cb#frag", "https://app.example.com/cb#", "https://user:pw@app.example.com/cb", "https://user@app.example.com/cb",
		"https://*.example.com/cb", "https://app.example.com/*", "myapp:/cb", "ftp://example.com/", "https:/cb", "https:example.com",
		"/relative/cb", "https://app.example.com/a b", "https://app.example.com/\tx", "com.example.app:/cb#x",
	}
	for _, u := range bad {
		err := ValidateRedirectURI(FieldLogoutURLs, u)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != FieldLogoutURLs || !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v", u, err)
		}
	}
}

func TestValidateWebOrigin(t *testing.T) {
	for _, o := range []string{"https://app.example.com", "https://app.example.com:8443", "https://app.example.com/", "http://localhost:3000", "http://127.0.0.1:9", "http://[::1]:8080"} {
		if err := ValidateWebOrigin(o); err != nil {
			t.Errorf("%q refused: %v", o, err)
		}
	}
	for _, o := range []string{"", "http://app.example.com", "https://app.example.com/path", "https://app.example.com?x", "https://app.example.com#f",
		"https://*.example.com", "https://u@app.example.com", "com.example.app:/cb", "javascript:alert(1)", "data:,x", "null", "file://"} {
		var fe *FieldError
		if err := ValidateWebOrigin(o); !errors.As(err, &fe) || fe.Field != FieldWebOrigins {
			t.Errorf("%q: %v", o, err)
		}
	}
}

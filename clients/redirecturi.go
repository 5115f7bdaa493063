package clients

// Which URIs a client may register. A redirect or logout URI receives codes,
// tokens or the end of a session, so only destinations that belong to the
// application are accepted (RFC 6749 §3.1.2, RFC 8252 §7, OAuth 2.0 Security
// BCP §4.1):
//
//   - https://host/... (any host);
//   - http:// only on a loopback host (localhost, 127.0.0.0/8, [::1]): a
//     native app's loopback redirect or local development (RFC 8252 §7.3);
//   - a private-use scheme in reverse-domain form, e.g.
//     com.example.app:/callback (RFC 8252 §7.1).
//
// Refused everywhere: fragments (RFC 6749 §3.1.2), userinfo (a host
// confusion vector, and credentials in a URI), wildcards (redirect URIs are
// compared exactly; a `*` is a registration mistake or an attempt at a
// pattern), whitespace and control characters, and script- or
// content-carrying schemes (javascript:, data:, vbscript:, file:…).
// Web origins are the origin only: https://host[:port] or
// http://loopback[:port].

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"unicode"
)

// Field names of the URI lists, as the management API spells them: the
// error says which list holds the refused value.
const (
	FieldRedirectURIs = "redirectUris"
	FieldLogoutURLs   = "logoutUrls"
	FieldWebOrigins   = "webOrigins"
)

// maxURILen bounds one registered URI.
const maxURILen = 2048

// FieldError is a refused client parameter and the input field holding
// it. It wraps ErrInvalid.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Message }

// Unwrap lets errors.Is(err, ErrInvalid) hold.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func fieldError(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// deniedSchemes can carry script or content, or reach the local machine:
// never a redirect target, even were they in reverse-domain form.
var deniedSchemes = map[string]bool{
	"javascript": true, "vbscript": true, "data": true, "file": true, "blob": true,
	"filesystem": true, "about": true, "view-source": true, "jar": true, "mhtml": true,
}

// privateScheme is a reverse-domain private-use scheme: at least two
// labels (RFC 8252 §7.1 asks for a domain the publisher controls).
var privateScheme = regexp.MustCompile(`^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$`)

// ValidateRedirectURI checks one redirect or post-logout URI; field names
// the list it comes from (FieldRedirectURIs, FieldLogoutURLs).
func ValidateRedirectURI(field, raw string) error {
	u, err := parseRegistered(field, raw)
	if err != nil {
		return err
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme == "https":
		if u.Host == "" || u.Hostname() == "" {
			return fieldError(field, "%s: %q has no host", field, raw)
		}
	case scheme == "http":
		if !isLoopbackHost(u.Hostname()) {
			return fieldError(field, "%s: %q must use https (http is allowed only on localhost, 127.0.0.1 or [::1])", field, raw)
		}
	case deniedSchemes[scheme]:
		return fieldError(field, "%s: the %s: scheme is not allowed", field, scheme)
	case privateScheme.MatchString(u.Scheme):
		// Private-use scheme (lower case, as RFC 8252 §7.1 writes them).
	default:
		return fieldError(field, "%s: %q must be https, http on a loopback host, or a private-use scheme in reverse-domain form (com.example.app:/callback)", field, raw)
	}
	return nil
}

// ValidateWebOrigin checks one allowed web origin (CORS, web_message):
// https://host[:port] or http://loopback[:port], nothing else.
func ValidateWebOrigin(raw string) error {
	u, err := parseRegistered(FieldWebOrigins, raw)
	if err != nil {
		return err
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Opaque != "" || u.Host == "" {
		return fieldError(FieldWebOrigins, "%s: %q must be an origin only, scheme://host[:port]", FieldWebOrigins, raw)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !isLoopbackHost(u.Hostname()) {
			return fieldError(FieldWebOrigins, "%s: %q must use https (http is allowed only on localhost, 127.0.0.1 or [::1])", FieldWebOrigins, raw)
		}
	default:
		return fieldError(FieldWebOrigins, "%s: %q must be an https origin, or http on a loopback host", FieldWebOrigins, raw)
	}
	return nil
}

// parseRegistered parses an absolute URI and refuses what no registered
// URI may hold, whatever its scheme.
func parseRegistered(field, raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fieldError(field, "%s: an empty URI is not allowed", field)
	}
	if len(raw) > maxURILen {
		return nil, fieldError(field, "%s: a URI may be at most %d characters", field, maxURILen)
	}
	if strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return nil, fieldError(field, "%s: %q contains whitespace or control characters", field, raw)
	}
	if strings.Contains(raw, "#") {
		return nil, fieldError(field, "%s: %q must not contain a fragment (#)", field, raw)
	}
	if strings.Contains(raw, "*") {
		return nil, fieldError(field, "%s: %q must not contain a wildcard (*): URIs are compared exactly", field, raw)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return nil, fieldError(field, "%s: %q is not an absolute URI", field, raw)
	}
	if u.User != nil {
		return nil, fieldError(field, "%s: %q must not contain user information (user@)", field, raw)
	}
	return u, nil
}

// isLoopbackHost reports whether host (without brackets or port) is
// localhost or a loopback IP address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// validateURIs applies the rules above to a client's three lists.
func validateURIs(redirects, logouts, origins []string) error {
	for _, u := range redirects {
		if err := ValidateRedirectURI(FieldRedirectURIs, u); err != nil {
			return err
		}
	}
	for _, u := range logouts {
		if err := ValidateRedirectURI(FieldLogoutURLs, u); err != nil {
			return err
		}
	}
	for _, o := range origins {
		if err := ValidateWebOrigin(o); err != nil {
			return err
		}
	}
	return nil
}

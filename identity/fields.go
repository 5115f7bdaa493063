package identity

import (
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/authgraph/authgraph/emailaddr"
)

// normalizeEmail returns email in the one form Authgraph stores and
// compares (emailaddr.Normalize: NFC, ASCII domain; look-alikes refused),
// once it is a bare address within RFC 5321's lengths.
func normalizeEmail(field, email string) (string, error) {
	if strings.TrimSpace(email) == "" {
		return "", invalid(field, "must not be empty")
	}
	n, err := emailaddr.Normalize(email)
	if err != nil {
		return "", invalid(field, "%s", err.Error())
	}
	if err := validateEmail(field, n); err != nil {
		return "", err
	}
	return n, nil
}

// NormalizeEmail is normalizeEmail for callers outside the package
// (imports, lookups): a *ValidationError on field "email" when refused.
func NormalizeEmail(email string) (string, error) { return normalizeEmail("email", email) }

// validateEmail accepts a bare address (no display name) within RFC 5321's
// lengths: local part ≤ 64, whole address ≤ 254.
func validateEmail(field, email string) error {
	if email == "" {
		return invalid(field, "must not be empty")
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" {
		return invalid(field, "is not a valid email address")
	}
	at := strings.LastIndexByte(email, '@')
	if at > 64 || len(email) > 254 || !strings.Contains(email[at+1:], ".") && email[at+1:] != "localhost" {
		return invalid(field, "is not a valid email address")
	}
	return nil
}

// usernameChars is Auth0's username alphabet (lowercase).
var usernameChars = regexp.MustCompile("^[a-z0-9 @^$!\\-#.+'~_`]+$")

// validateUsername checks a lowercased username against the connection's
// length bounds; it must not be an email address.
func validateUsername(field, username string, minLen, maxLen int) error {
	n := utf8.RuneCountInString(username)
	if n < minLen || n > maxLen {
		return invalid(field, "must be %d to %d characters", minLen, maxLen)
	}
	if !usernameChars.MatchString(username) {
		return invalid(field, "may contain only a-z, 0-9 and @^$!-#.+'~_` characters")
	}
	if _, err := mail.ParseAddress(username); err == nil && strings.Contains(username, "@") {
		return invalid(field, "must not be an email address")
	}
	return nil
}

var e164 = regexp.MustCompile(`^\+[0-9]{1,15}$`)

func validatePhone(field, phone string) error {
	if !e164.MatchString(phone) {
		return invalid(field, "must be in E.164 format, e.g. +14155550123")
	}
	return nil
}

func validateLength(field, v string, minLen, maxLen int) error {
	if n := utf8.RuneCountInString(v); n < minLen || n > maxLen {
		return invalid(field, "must be %d to %d characters", minLen, maxLen)
	}
	if !utf8.ValidString(v) || strings.ContainsAny(v, "\x00") {
		return invalid(field, "must be valid UTF-8 text")
	}
	return nil
}

func validatePicture(field, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(v) > 2048 {
		return invalid(field, "must be an http(s) URL of at most 2048 characters")
	}
	return nil
}

// validatePassword checks what every connection requires; the password
// policy levels come with the login work.
func validatePassword(field, pw string) error {
	if pw == "" {
		return invalid(field, "must not be empty")
	}
	if len(pw) > 72 {
		return invalid(field, "must be at most 72 bytes")
	}
	return nil
}

// validateUserID checks an Auth0-style user_id given on create.
func validateUserID(field, id string) error {
	if id == "" || len(id) > 255 {
		return invalid(field, "must be 1 to 255 characters")
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f {
			return invalid(field, "must not contain spaces or control characters")
		}
	}
	return nil
}

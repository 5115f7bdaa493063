package mail

import (
	"bytes"
	"embed"
	htmltemplate "html/template"
	texttemplate "text/template"
	"time"
)

//go:embed templates/*
var templateFS embed.FS

var (
	textTemplates = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/*.txt"))
	htmlTemplates = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/*.html"))
)

// LinkData fills the templates.
type LinkData struct {
	// Email is the recipient's address.
	Email string
	// Link is the ticket URL.
	Link string
	// Expires is when the link stops working.
	Expires time.Time
}

// ExpiresText renders the expiry for the templates.
func (d LinkData) ExpiresText() string { return d.Expires.UTC().Format("2 January 2006 15:04 MST") }

// VerificationEmail is the message asking a user to confirm their address.
func VerificationEmail(d LinkData) Message {
	return render("verify", "Verify your email address", d)
}

// ResetEmail is the message carrying a password-reset link.
func ResetEmail(d LinkData) Message {
	return render("reset", "Reset your password", d)
}

// AccountExistsEmail tells the owner of an address that someone tried to
// sign up with it: the signup page answers such an attempt as it answers
// any refused signup, so that it does not confirm the account exists, and
// the owner learns of it here instead. Link is the forgot-password page
// (no ticket: an attempt must not create one).
func AccountExistsEmail(d LinkData) Message {
	return render("account_exists", "Someone tried to sign up with your email address", d)
}

// CodeData fills the one-time code template.
type CodeData struct {
	// Email is the recipient's address.
	Email string
	// Code is the one-time code. Messages carrying it set no Link, so
	// that not even the development sender logs it.
	Code string
	// Expires is when the code stops working.
	Expires time.Time
}

// ExpiresText renders the expiry for the templates.
func (d CodeData) ExpiresText() string { return d.Expires.UTC().Format("15:04 MST") }

// MFACodeEmail carries a one-time code for multi-factor authentication.
func MFACodeEmail(d CodeData) Message {
	m := renderAny("mfa_code", "Your verification code", d)
	m.To = d.Email
	return m
}

func render(name, subject string, d LinkData) Message {
	m := renderAny(name, subject, d)
	m.To, m.Link = d.Email, d.Link
	return m
}

func renderAny(name, subject string, d any) Message {
	var t, h bytes.Buffer
	if err := textTemplates.ExecuteTemplate(&t, name+".txt", d); err != nil {
		panic(err) // templates are embedded and tested
	}
	if err := htmlTemplates.ExecuteTemplate(&h, name+".html", d); err != nil {
		panic(err)
	}
	return Message{Subject: subject, Text: t.String(), HTML: h.String()}
}

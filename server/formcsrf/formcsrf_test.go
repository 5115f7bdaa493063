package formcsrf_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/server/formcsrf"
)

// post is a form POST carrying token and the cookies set by rec.
func post(rec *httptest.ResponseRecorder, token string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(url.Values{formcsrf.Field: {token}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range rec.Result().Cookies() {
		r.AddCookie(c)
	}
	return r
}

func TestGuard(t *testing.T) {
	login := formcsrf.New("authgraph_csrf", "authgraph-login-csrf", true)
	account := formcsrf.New("authgraph_account_csrf", "authgraph-account-csrf", true)

	rec := httptest.NewRecorder()
	token := login.Token(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != "__Host-authgraph_csrf" || !cookies[0].HttpOnly || !cookies[0].Secure ||
		cookies[0].SameSite != http.SameSiteLaxMode || cookies[0].Path != "/" {
		t.Fatalf("cookie %+v", cookies)
	}
	if !login.Valid(post(rec, token)) {
		t.Fatal("a token is valid with its cookie")
	}
	if login.Valid(post(rec, token[:len(token)-2]+"AA")) {
		t.Fatal("a tampered token is refused")
	}
	if login.Valid(post(httptest.NewRecorder(), token)) {
		t.Fatal("a token without its cookie is refused")
	}
	// Another browser's token fails against this one's secret.
	other := httptest.NewRecorder()
	otherToken := login.Token(other, httptest.NewRequest(http.MethodGet, "/", nil))
	if login.Valid(post(rec, otherToken)) {
		t.Fatal("another browser's token is refused")
	}
	// A login page's token is no token for the account page, even with the
	// same secret under the account cookie's name.
	r := post(rec, token)
	r.AddCookie(&http.Cookie{Name: "__Host-authgraph_account_csrf", Value: cookies[0].Value})
	if account.Valid(r) {
		t.Fatal("a token of another set of pages is refused")
	}
	// Two forms of one page share the secret: one cookie, set once.
	rec2 := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	a, b := login.Token(rec2, req), login.Token(rec2, req)
	if n := len(rec2.Result().Cookies()); n != 1 || a == b || !login.Valid(post(rec2, a)) || !login.Valid(post(rec2, b)) {
		t.Fatalf("two tokens in one request: %d cookies", n)
	}
	if plain := formcsrf.New("authgraph_csrf", "x", false); plain.Token(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil)) == "" {
		t.Fatal("no token")
	}
}

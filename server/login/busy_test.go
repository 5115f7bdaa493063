package login_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/passwords"
)

const busyText = "We are very busy right now."

// formOf is what submit posts: the page's form with its hidden fields and
// fields, and where to.
func formOf(t *testing.T, page resp, fields url.Values) (string, url.Values) {
	t.Helper()
	m, a := csrfRE.FindStringSubmatch(page.body), actionRE.FindStringSubmatch(page.body)
	if m == nil || a == nil {
		t.Fatalf("no form on the page:\n%s", page.body)
	}
	form := url.Values{"csrf_token": {m[1]}}
	for _, hidden := range regexp.MustCompile(`<input type="hidden" name="(req|connection|ticket)" value="([^"]*)"`).FindAllStringSubmatch(page.body, -1) {
		form.Set(hidden[1], unescape(hidden[2]))
	}
	for k, v := range fields {
		form[k] = v
	}
	return unescape(a[1]), form
}

// TestLoginStormBusy: with one hash at a time and a queue wait of a
// millisecond, a storm of simultaneous correct logins gets some 503 pages
// with Retry-After and the form again, the others log in; no login was
// refused as a wrong password, and no failure was logged or counted.
func TestLoginStormBusy(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.conn("db", "database", map[string]any{"passwordPolicy": "low"})
		// Different users: concurrent attempts at one identifier from one IP
		// count toward its brute-force threshold while in flight.
		const n = 12
		for i := range n {
			e.user("db", fmt.Sprintf("storm%d@example.com", i), "Storm-pass-1")
		}
		e.auth.Passwords = passwords.NewLimiter(1, time.Millisecond)

		type submission struct {
			c      *http.Client
			action string
			form   url.Values
		}
		subs := make([]submission, n)
		for i := range subs {
			b := browser()
			page := e.get(b, "/login?req="+e.request(nil))
			action, form := formOf(t, page, url.Values{"username": {fmt.Sprintf("storm%d@example.com", i)}, "password": {"Storm-pass-1"}})
			subs[i] = submission{b, action, form}
		}
		results := make([]resp, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, s := range subs {
			wg.Go(func() {
				<-start
				r, err := s.c.PostForm(e.srv.URL+s.action, s.form)
				if err != nil {
					t.Error(err)
					return
				}
				defer r.Body.Close()
				b, _ := io.ReadAll(r.Body)
				results[i] = resp{r.StatusCode, string(b), r.Header}
			})
		}
		close(start)
		wg.Wait()
		busy, ok := 0, 0
		for i, r := range results {
			switch r.status {
			case http.StatusFound:
				ok++
			case http.StatusServiceUnavailable:
				busy++
				if r.header.Get("Retry-After") != "1" || !strings.Contains(r.body, busyText) || !strings.Contains(r.body, `name="password"`) {
					t.Errorf("busy answer %d: Retry-After %q\n%s", i, r.header.Get("Retry-After"), r.body)
				}
			default:
				t.Errorf("login %d: %d\n%s", i, r.status, r.body)
			}
		}
		if busy == 0 || ok == 0 {
			t.Fatalf("%d logged in, %d busy: want some of each", ok, busy)
		}
		t.Logf("%d logged in, %d busy", ok, busy)
		if n := e.db.LogEvent.Query().Where(logevent.TypeIn("f", "fp", "fu")).CountX(sys); n != 0 {
			t.Fatalf("%d failure events", n)
		}
		if n := e.db.LogEvent.Query().Where(logevent.Type("s")).CountX(sys); n != ok {
			t.Fatalf("%d success events, %d logins", n, ok)
		}
		for _, a := range e.db.LoginAttempt.Query().AllX(sys) {
			if a.Failures != 0 {
				t.Fatalf("busy answers counted as failures: %+v", a)
			}
		}
	})
}

// TestBusyIsNoFailedAttempt: while the limiter is full, wrong passwords
// and unknown users get the same busy page, more times than brute-force
// protection's threshold, and the right password then still logs in. A
// signup is answered busy too, and creates nobody.
func TestBusyIsNoFailedAttempt(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.conn("db", "database", map[string]any{"passwordPolicy": "low"})
		e.user("db", "alice@example.com", "Alice-pass-1")
		lim := passwords.NewLimiter(1, 0)
		e.auth.Passwords = lim
		release, err := lim.Reserve(sys)
		if err != nil {
			t.Fatal(err)
		}
		b := browser()
		page := e.get(b, "/login?req="+e.request(nil))
		for i := range 12 {
			wrong := e.submit(b, page, url.Values{"username": {"alice@example.com"}, "password": {"nope"}})
			unknown := e.submit(b, page, url.Values{"username": {"zed@example.com"}, "password": {"nope"}})
			for _, r := range []resp{wrong, unknown} {
				if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "1" || !strings.Contains(r.body, busyText) {
					t.Fatalf("busy attempt %d: %d %q\n%s", i, r.status, r.header.Get("Retry-After"), r.body)
				}
			}
			if strings.ReplaceAll(normalize(wrong.body), "alice@example.com", "U") != strings.ReplaceAll(normalize(unknown.body), "zed@example.com", "U") {
				t.Fatalf("busy pages of a known and an unknown user differ:\n%s\n----\n%s", wrong.body, unknown.body)
			}
		}
		sid := e.request(nil)
		sp := e.get(b, "/login/signup?connection=db&req="+sid)
		su := e.submit(b, sp, url.Values{"email": {"sam@example.com"}, "password": {"Sam-is-great-9"}})
		if su.status != http.StatusServiceUnavailable || su.header.Get("Retry-After") != "1" || !strings.Contains(su.body, busyText) {
			t.Fatalf("busy signup: %d\n%s", su.status, su.body)
		}
		if n := e.db.User.Query().CountX(sys); n != 1 {
			t.Fatalf("%d users after a busy signup", n)
		}
		release()
		ok := e.submit(b, page, url.Values{"username": {"alice@example.com"}, "password": {"Alice-pass-1"}})
		if ok.status != http.StatusFound {
			t.Fatalf("login after the busy answers: %d\n%s", ok.status, ok.body)
		}
		if n := e.db.LogEvent.Query().Where(logevent.TypeIn("f", "fp", "fu", "fs", "limit_wc")).CountX(sys); n != 0 {
			t.Fatalf("%d failure events", n)
		}
	})
}

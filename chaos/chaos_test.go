package chaos

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/authgraph/authgraph/internal/testenv"
)

// Bounds of the contract under test.
const (
	// failFast: a request during a database outage is answered within this.
	failFast = 5 * time.Second
	// recoverWithin: after the database is back, operations succeed again
	// within this, without restarting a node.
	recoverWithin = 5 * time.Second
	// takeOutWithin: the proxy takes a killed node out within this.
	takeOutWithin = 2 * time.Second
	// outage is how long the database stays down in a restart: long enough
	// for the load to hit it.
	outage = 2 * time.Second
)

// killEvent is a node killed with SIGKILL.
type killEvent struct {
	node       string
	at, dead   time.Time // before the signal; once the process was reaped
	down       time.Time // when the proxy took it out (zero: never)
	restarted  time.Time // when it answered again (long variant)
	restartErr error
}

// pgEvent is a database stop and start.
type pgEvent struct {
	mode       string
	stop, up   time.Time // before the stop; once it accepts connections again
	restartErr error
}

// TestNodeKillAndDatabaseRestart runs three nodes on one Postgres under a
// mixed load, kills one node with SIGKILL, then stops Postgres and starts
// it again, and checks what the load saw (see the package comment). The
// long variant repeats kills (the node is started again), fast and
// immediate database restarts for its whole duration.
func TestNodeKillAndDatabaseRestart(t *testing.T) {
	isLong, loadFor := long()
	t0 := time.Now()
	pg := testenv.StartPostgresCluster(t)
	c := startCluster(t, pg, 3)
	t.Logf("postgres and %d nodes up in %v", len(c.nodes), time.Since(t0).Round(time.Millisecond))
	issuer := c.nodes[0].envValue("AUTHGRAPH_ISSUER")

	shared := &http.Transport{MaxIdleConnsPerHost: 16}
	defer shared.CloseIdleConnections()
	clientID, secret, users := setup(t, issuer, shared)

	rec := &recorder{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	const workers = 4
	for i := range workers {
		w := newWorker(i+1, issuer, clientID, secret, users, rec, shared)
		wg.Go(func() { w.run(stop) })
	}
	var kills []*killEvent
	var pgs []*pgEvent
	sleep := func(d time.Duration) { time.Sleep(d) }
	killNode := func(nd *node) *killEvent {
		k := &killEvent{node: nd.name, at: time.Now()}
		nd.kill()
		k.dead = time.Now()
		kills = append(kills, k)
		t.Logf("%s killed", nd.name)
		return k
	}
	restartPG := func(mode string) {
		e := &pgEvent{mode: mode, stop: time.Now()}
		if err := pg.Stop(mode); err != nil {
			e.restartErr = err
		}
		sleep(outage)
		if err := pg.Start(); err != nil && e.restartErr == nil {
			e.restartErr = err
		}
		e.up = time.Now()
		pgs = append(pgs, e)
		t.Logf("postgres stopped (%s) and started again", mode)
	}

	start := time.Now()
	if !isLong {
		sleep(3 * time.Second)
		killNode(c.nodes[1])
		sleep(4 * time.Second)
		restartPG("fast")
		sleep(recoverWithin + 2*time.Second)
	} else {
		for cycle := 0; time.Since(start) < loadFor; cycle++ {
			sleep(3 * time.Second)
			nd := c.nodes[cycle%len(c.nodes)]
			k := killNode(nd)
			sleep(3 * time.Second)
			k.restartErr = nd.start()
			k.restarted = time.Now()
			sleep(3 * time.Second)
			restartPG([]string{"fast", "immediate"}[cycle%2])
			sleep(recoverWithin + time.Second)
		}
	}
	close(stop)
	wg.Wait()
	loadEnd := time.Now()
	for _, k := range kills {
		for _, e := range c.proxy.eventLog() {
			if e.node == k.node && e.down && !e.at.Before(k.at) {
				k.down = e.at
				break
			}
		}
	}

	var problems []string
	for _, k := range kills {
		if k.restartErr != nil {
			problems = append(problems, fmt.Sprintf("%s did not start again: %v", k.node, k.restartErr))
		}
		if k.down.IsZero() || k.down.Sub(k.dead) > takeOutWithin {
			problems = append(problems, fmt.Sprintf("the proxy took %s out at %v, more than %v after its death", k.node, rel(start, k.down), takeOutWithin))
		}
	}
	for _, e := range pgs {
		if e.restartErr != nil {
			problems = append(problems, fmt.Sprintf("postgres restart (%s): %v", e.mode, e.restartErr))
		}
	}
	problems = append(problems, judgeOps(rec.ops, kills, pgs)...)
	problems = append(problems, checkEffect(rec.ops, kills, pgs, loadEnd)...)
	// Everything is back: each acknowledged write must read back, and each
	// issued token must have its login recorded.
	problems = append(problems, checkWrites(t, issuer, shared, rec.writes)...)
	problems = append(problems, checkLogins(t, c.dbURL, rec.ops)...)

	summary := summarize(start, rec.ops, kills, pgs, c.proxy.eventLog())
	t.Logf("load ran %v: %s", loadEnd.Sub(start).Round(time.Millisecond), summary.short)
	if testing.Verbose() {
		t.Logf("events:\n%s", summary.events)
	}
	if len(problems) > 0 {
		for _, p := range problems[:min(len(problems), 40)] {
			t.Errorf("%s", p)
		}
		t.Logf("op log summary:\n%s", summary.long)
		for _, nd := range c.nodes {
			t.Logf("%s log tail:\n%s", nd.name, nd.logTail(4000))
		}
		t.Logf("postgres log tail:\n%s", pg.LogTail(3000))
	}
}

func (nd *node) envValue(key string) string {
	for _, kv := range nd.env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// setup registers the login client and the users that log in, through the
// proxy while everything is healthy.
func setup(t *testing.T, issuer string, tr http.RoundTripper) (clientID, secret string, users []seedUser) {
	t.Helper()
	rec := &recorder{}
	w := newWorker(0, issuer, "", "", nil, rec, tr)
	w.tr.op = &op{}
	if err := w.getAdminToken(); err != nil {
		t.Fatalf("admin token: %v", err)
	}
	var app struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := w.api(http.MethodPost, "clients", map[string]any{"name": "Chaos app", "app_type": "regular_web",
		"callbacks": []string{redirectURI}, "is_first_party": true, "oidc_conformant": true}, http.StatusCreated, &app); err != nil {
		t.Fatalf("creating the client: %v", err)
	}
	for i := range 8 {
		email := fmt.Sprintf("seed%d@example.com", i)
		var out struct {
			UserID string `json:"user_id"`
		}
		if err := w.api(http.MethodPost, "users", map[string]any{"connection": "Username-Password-Authentication",
			"email": email, "password": password}, http.StatusCreated, &out); err != nil {
			t.Fatalf("creating %s: %v", email, err)
		}
		users = append(users, seedUser{id: out.UserID, email: email})
	}
	return app.ClientID, app.ClientSecret, users
}

// judgeOps returns a line for every failed operation that the events do
// not excuse:
//   - its deciding request went to a killed node, was in flight at the
//     kill or started before the proxy took the node out;
//   - or it met a database outage (from the stop until recoverWithin after
//     the start) and was answered 503 within failFast (or, at the
//     authorization endpoint, redirected with temporarily_unavailable; in
//     GraphQL, an error SERVICE_UNAVAILABLE).
func judgeOps(ops []*op, kills []*killEvent, pgs []*pgEvent) []string {
	var out []string
	for _, o := range ops {
		if !o.failed() {
			continue
		}
		if excused(o, kills, pgs) {
			continue
		}
		r := o.last()
		out = append(out, fmt.Sprintf("op %d (%s, worker %d) failed unexcused: last request %s %s on %q status %d in %v: %s",
			o.id, o.kind, o.worker, r.method, r.path, r.node, r.status, r.end.Sub(r.start).Round(time.Millisecond), o.err))
	}
	return out
}

func excused(o *op, kills []*killEvent, pgs []*pgEvent) bool {
	r := o.last()
	for _, k := range kills {
		takenOut := k.down
		if takenOut.IsZero() {
			takenOut = k.dead.Add(takeOutWithin)
		}
		if r.node == k.node && !r.end.Before(k.at) && r.start.Before(takenOut) {
			return true
		}
	}
	for _, e := range pgs {
		if !r.end.Before(e.stop) && r.start.Before(e.up.Add(recoverWithin)) &&
			(r.status == http.StatusServiceUnavailable || r.appErr == "temporarily_unavailable" || r.appErr == "SERVICE_UNAVAILABLE") &&
			r.end.Sub(r.start) < failFast {
			return true
		}
	}
	return false
}

// checkEffect keeps the test from passing vacuously: the load met every
// event, no request hung, and operations succeeded after each event.
func checkEffect(ops []*op, kills []*killEvent, pgs []*pgEvent, loadEnd time.Time) []string {
	var out []string
	for _, o := range ops {
		for _, r := range o.reqs {
			if d := r.end.Sub(r.start); d >= failFast {
				out = append(out, fmt.Sprintf("op %d (%s): %s %s on %q took %v (status %d)", o.id, o.kind, r.method, r.path, r.node, d.Round(time.Millisecond), r.status))
			}
		}
	}
	succeededAfter := func(at time.Time, kinds ...string) bool {
		for _, o := range ops {
			if !o.failed() && !o.start.Before(at) && slices.Contains(kinds, o.kind) {
				return true
			}
		}
		return false
	}
	for _, k := range kills {
		if !succeededAfter(k.dead, "login") || !succeededAfter(k.dead, "create", "update") {
			out = append(out, fmt.Sprintf("no login or no management write succeeded after %s was killed", k.node))
		}
	}
	for _, e := range pgs {
		met := false
		for _, o := range ops {
			for _, r := range o.reqs {
				met = met || (r.status == http.StatusServiceUnavailable && r.start.After(e.stop) && r.end.Before(e.up))
			}
		}
		if !met {
			out = append(out, fmt.Sprintf("no request was answered 503 while postgres was down (%s restart): the outage was not tested", e.mode))
		}
		if !succeededAfter(e.up.Add(recoverWithin), "login") || !succeededAfter(e.up.Add(recoverWithin), "create", "update") {
			out = append(out, fmt.Sprintf("no login or no management write succeeded from %v after postgres was back (%s restart)", recoverWithin, e.mode))
		}
	}
	return out
}

// checkWrites reads back every user a write touched: an acknowledged
// creation must exist, and user_metadata.v must be the last acknowledged
// value or one of the unacknowledged ones sent after it (those may or may
// not have been applied).
func checkWrites(t *testing.T, issuer string, tr http.RoundTripper, writes []write) []string {
	w := newWorker(0, issuer, "", "", nil, &recorder{}, tr)
	w.tr.op = &op{}
	var err error
	for range 20 { // the nodes have recovered by now; allow a straggler
		if err = w.getAdminToken(); err == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		return []string{"no admin token after the load: " + err.Error()}
	}
	byUser := map[string][]write{}
	var order []string
	for _, wr := range writes {
		if _, ok := byUser[wr.user]; !ok {
			order = append(order, wr.user)
		}
		byUser[wr.user] = append(byUser[wr.user], wr)
	}
	var out []string
	acked := 0
	for _, id := range order {
		ws := byUser[id]
		allowed := []int{}
		for _, wr := range ws {
			if wr.acked {
				allowed = []int{wr.v}
				acked++
			} else {
				allowed = append(allowed, wr.v)
			}
		}
		var got struct {
			Email        string         `json:"email"`
			UserMetadata map[string]any `json:"user_metadata"`
		}
		if err := w.api(http.MethodGet, "users/"+url.PathEscape(id), nil, http.StatusOK, &got); err != nil {
			out = append(out, fmt.Sprintf("acknowledged user %s (%s) cannot be read back: %v", id, ws[0].email, err))
			continue
		}
		v, _ := got.UserMetadata["v"].(float64)
		if got.Email != ws[0].email || !slices.Contains(allowed, int(v)) {
			out = append(out, fmt.Sprintf("user %s reads back %s v=%v, want %s and v in %v", id, got.Email, got.UserMetadata["v"], ws[0].email, allowed))
		}
	}
	if acked == 0 {
		out = append(out, "no management write was acknowledged: the load did not run")
	}
	return out
}

// checkLogins checks in the database that every token issued to a login
// has the login's session, and that each user's logins_count covers the
// logins that got tokens: no token for a login whose writes were lost.
func checkLogins(t *testing.T, dbURL string, ops []*op) []string {
	db := openDB(t, dbURL)
	defer db.Close()
	var sids []string
	perUser := map[string]int{}
	for _, o := range ops {
		if o.kind == "login" && !o.failed() {
			sids = append(sids, o.sid)
			perUser[o.sub]++
		}
	}
	if len(sids) == 0 {
		return []string{"no login succeeded: the load did not run"}
	}
	var out []string
	rows, err := db.Query(`SELECT id FROM sessions WHERE id = ANY($1)`, pq.Array(sids))
	if err != nil {
		return []string{"reading sessions: " + err.Error()}
	}
	found := map[string]bool{}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		found[id] = true
	}
	rows.Close()
	for _, sid := range sids {
		if !found[sid] {
			out = append(out, fmt.Sprintf("a token was issued for session %s, which the database does not have", sid))
		}
	}
	for sub, n := range perUser {
		var count int
		if err := db.QueryRow(`SELECT logins_count FROM users WHERE user_id = $1`, sub).Scan(&count); err != nil {
			out = append(out, fmt.Sprintf("reading %s: %v", sub, err))
		} else if count < n {
			out = append(out, fmt.Sprintf("%s got tokens for %d logins but its logins_count is %d", sub, n, count))
		}
	}
	return out
}

type summary struct{ short, events, long string }

func rel(start, at time.Time) string {
	if at.IsZero() {
		return "never"
	}
	return "+" + at.Sub(start).Round(time.Millisecond).String()
}

// summarize counts the ops per kind and outcome, and lists the events and
// the failures on a timeline relative to the load's start.
func summarize(start time.Time, ops []*op, kills []*killEvent, pgs []*pgEvent, proxyEvents []proxyEvent) summary {
	type key struct{ kind, outcome string }
	counts := map[key]int{}
	for _, o := range ops {
		outcome := "ok"
		if o.failed() {
			outcome = fmt.Sprintf("failed(%d)", o.last().status)
		}
		counts[key{o.kind, outcome}]++
	}
	keys := make([]key, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].kind+keys[i].outcome < keys[j].kind+keys[j].outcome })
	var s strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&s, "%s %s: %d; ", k.kind, k.outcome, counts[k])
	}
	short := s.String()
	var l strings.Builder
	l.WriteString(short + "\n")
	for _, k := range kills {
		fmt.Fprintf(&l, "kill %s at %s, dead %s, taken out %s, restarted %s\n", k.node, rel(start, k.at), rel(start, k.dead), rel(start, k.down), rel(start, k.restarted))
	}
	for _, e := range pgs {
		var first time.Time
		for _, o := range ops {
			if !o.failed() && o.start.After(e.up) && (first.IsZero() || o.end.Before(first)) {
				first = o.end
			}
		}
		fmt.Fprintf(&l, "postgres %s stop at %s, up %s, first op succeeded %s\n", e.mode, rel(start, e.stop), rel(start, e.up), rel(start, first))
	}
	for _, e := range proxyEvents {
		fmt.Fprintf(&l, "proxy %s %s down=%v %s\n", rel(start, e.at), e.node, e.down, e.why)
	}
	events := strings.TrimPrefix(l.String(), short+"\n")
	n := 0
	for _, o := range ops {
		if !o.failed() || n >= 40 || excused(o, kills, pgs) {
			continue
		}
		n++
		fmt.Fprintf(&l, "unexcused failed op %d %s worker %d %s..%s: %s\n", o.id, o.kind, o.worker, rel(start, o.start), rel(start, o.end), o.err)
		for _, r := range o.reqs {
			fmt.Fprintf(&l, "    %s %s on %q → %d %s%s (%s..%s)\n", r.method, r.path, r.node, r.status, r.appErr, r.err, rel(start, r.start), rel(start, r.end))
		}
	}
	return summary{short: short, events: events, long: l.String()}
}

package main

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
	"github.com/oklog/ulid/v2"

	"github.com/authgraph/authgraph/passwords"
)

// The seed's time span: users sign up from seedStart to seedEnd, in id
// order (ids are ULIDs of the creation time, as the app makes them, so the
// table's physical order, the id order and the created_at order agree, as
// in a database that grew over time).
var (
	seedStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	seedEnd   = time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
)

// weighted picks index i with weight w[i], by binary search over the
// cumulative weights.
type weighted struct{ cum []float64 }

func newWeighted(w []float64) weighted {
	cum := make([]float64, len(w))
	s := 0.0
	for i, x := range w {
		s += x
		cum[i] = s
	}
	return weighted{cum: cum}
}

func (w weighted) pick(r *rand.Rand) int {
	x := r.Float64() * w.cum[len(w.cum)-1]
	return sort.SearchFloat64s(w.cum, x)
}

// zipf weights rank r by 1/(r+offset).
func zipf(n int, offset float64) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1 / (float64(i) + offset)
	}
	return w
}

// companyDomains are the seed's 990 company domains, the most used first.
func companyDomains() []string {
	suffix := []string{"", "labs"}
	out := make([]string, 0, 990)
	for r := range 990 {
		a, b, c := r%30, (r/30)%30, r/900
		out = append(out, domainSyllables[a]+domainSyllables[b]+suffix[c]+"."+domainTLDs[(a+b)%len(domainTLDs)])
	}
	return out
}

// seedGen generates the seed's users, deterministically from its seed.
type seedGen struct {
	r                    *rand.Rand
	first, last, company weighted
	domains              []string
	personal             weighted
	orgs                 weighted
	n                    int
}

func newSeedGen(seed uint64, n int) *seedGen {
	g := &seedGen{r: rand.New(rand.NewPCG(seed, 0x5eed)), n: n, domains: companyDomains()}
	g.first, g.last = newWeighted(zipf(len(firstNames), 10)), newWeighted(zipf(len(lastNames), 10))
	g.company = newWeighted(zipf(len(g.domains), 3))
	// Personal providers first, then "a company domain" with the rest.
	pw := []float64{}
	rest := 1.0
	for _, d := range personalDomains {
		pw = append(pw, d.share)
		rest -= d.share
	}
	g.personal = newWeighted(append(pw, rest))
	g.orgs = newWeighted(zipf(5000, 2))
	return g
}

var (
	seedTags    = []string{"beta", "early-adopter", "vip", "churn-risk", "trial", "partner", "internal", "eu", "us", "apac"}
	seedLocales = []string{"en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "pt-BR", "ja-JP", "nl-NL"}
)

type seedUser struct {
	id, userID, upstream, email, nickname string
	name, given, family, phone, lastIP    *string
	emailVerified, phoneVerified, blocked bool
	userMeta, appMeta                     string
	created, updated                      time.Time
	lastLogin, lastReset                  *time.Time
	logins                                int
	identityID                            string
}

func ptr[T any](v T) *T { return &v }

// user returns the i-th user (i counts from 0, in creation order).
func (g *seedGen) user(i int) seedUser {
	r := g.r
	span := seedEnd.Sub(seedStart)
	created := seedStart.Add(time.Duration(float64(span) * (float64(i) + r.Float64()) / float64(g.n))).Truncate(time.Microsecond)
	u := seedUser{created: created}
	u.id = "usr_" + ulid.MustNew(ulid.Timestamp(created), ulidEntropy{r}).String()
	u.identityID = "idn_" + ulid.MustNew(ulid.Timestamp(created), ulidEntropy{r}).String()
	up := make([]byte, 12)
	for j := range up {
		up[j] = byte(r.UintN(256))
	}
	u.upstream = hex.EncodeToString(up)
	u.userID = "auth0|" + u.upstream

	first, last := firstNames[g.first.pick(r)], lastNames[g.last.pick(r)]
	fl, ll := strings.ToLower(first), strings.ToLower(last)
	var local string
	switch r.IntN(5) {
	case 0:
		local = fl + "." + ll
	case 1:
		local = fl[:1] + ll
	case 2:
		local = fl + ll[:1]
	case 3:
		local = fl + "_" + ll
	default:
		local = fl
	}
	local += strconv.Itoa(i) // unique, as the identities' email index requires
	var domain string
	if k := g.personal.pick(r); k < len(personalDomains) {
		domain = personalDomains[k].name
	} else {
		domain = g.domains[g.company.pick(r)]
	}
	u.email = local + "@" + domain
	u.nickname = local // the app's default nickname: the email's local part
	if r.Float64() < 0.88 {
		u.name, u.given, u.family = ptr(first+" "+last), ptr(first), ptr(last)
	}
	u.emailVerified = r.Float64() < 0.75
	if r.Float64() < 0.08 {
		u.phone = ptr(fmt.Sprintf("+1555%07d", r.IntN(10_000_000)))
		u.phoneVerified = r.IntN(2) == 0
	}
	u.blocked = r.Float64() < 0.003

	// Most users log in a few times; some never; a few are heavy users.
	switch x := r.Float64(); {
	case x < 0.2:
		u.logins = 0
	case x < 0.97:
		u.logins = 1
		for r.Float64() < 0.75 {
			u.logins++
		}
	default:
		u.logins = 50 + r.IntN(1950)
	}
	u.updated = created
	if u.logins > 0 {
		ll := created.Add(time.Duration(r.Float64() * float64(seedEnd.Sub(created)))).Truncate(time.Microsecond)
		u.lastLogin = &ll
		u.updated = ll
		u.lastIP = ptr(fmt.Sprintf("%d.%d.%d.%d", 1+r.IntN(222), r.IntN(256), r.IntN(256), 1+r.IntN(254)))
	}
	if r.Float64() < 0.05 {
		t := created.Add(time.Duration(r.Float64() * float64(seedEnd.Sub(created)))).Truncate(time.Microsecond)
		u.lastReset = &t
	}

	plan := "free"
	switch x := r.Float64(); {
	case x < 0.05:
		plan = "enterprise"
	case x < 0.20:
		plan = "gold"
	}
	app := map[string]any{"plan": plan}
	tags := []string{}
	for range r.IntN(4) {
		tags = append(tags, seedTags[r.IntN(len(seedTags))])
	}
	app["tags"] = tags
	if r.Float64() < 0.7 {
		app["org"] = map[string]any{"id": fmt.Sprintf("org_%04d", g.orgs.pick(r))}
	}
	b, _ := json.Marshal(app)
	u.appMeta = string(b)
	um := map[string]any{}
	if r.Float64() < 0.7 {
		um["theme"] = []string{"light", "dark"}[r.IntN(2)]
		um["locale"] = seedLocales[r.IntN(len(seedLocales))]
		um["newsletter"] = r.IntN(3) == 0
	}
	b, _ = json.Marshal(um)
	u.userMeta = string(b)
	return u
}

// ulidEntropy reads ULID entropy from the seed's generator.
type ulidEntropy struct{ r *rand.Rand }

func (e ulidEntropy) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(e.r.UintN(256))
	}
	return len(p), nil
}

// seedSearch empties users (and, by cascade, their identities, sessions…)
// and writes n users, each with the database-connection identity the app
// gives a user created through the API, with COPY in one transaction. The
// identities share one real argon2id hash: search never reads it, but rows
// keep their real width.
func seedSearch(ctx context.Context, db *sql.DB, n int, seed uint64) error {
	var connID string
	if err := db.QueryRowContext(ctx, `SELECT id FROM connections WHERE name = 'Username-Password-Authentication'`).Scan(&connID); err != nil {
		return fmt.Errorf("the default database connection: %w", err)
	}
	hash := passwords.Hash("Bench-Password-2026!")
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck
	if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `TRUNCATE users CASCADE`); err != nil {
		return err
	}
	us, err := tx.PrepareContext(ctx, pq.CopyIn("users", "id", "created_at", "updated_at", "user_id", "email",
		"email_verified", "username", "phone_number", "phone_verified", "name", "given_name", "family_name",
		"nickname", "picture", "blocked", "user_metadata", "app_metadata", "last_login", "last_ip", "logins_count",
		"last_password_reset"))
	if err != nil {
		return err
	}
	g := newSeedGen(seed, n)
	type ident struct {
		id, owner, upstream, email string
		created, updated           time.Time
	}
	idents := make([]ident, 0, n)
	start := time.Now()
	for i := range n {
		u := g.user(i)
		if _, err := us.ExecContext(ctx, u.id, u.created, u.updated, u.userID, u.email, u.emailVerified, nil, u.phone,
			u.phoneVerified, u.name, u.given, u.family, u.nickname, nil, u.blocked, u.userMeta, u.appMeta, u.lastLogin,
			u.lastIP, u.logins, u.lastReset); err != nil {
			return err
		}
		idents = append(idents, ident{id: u.identityID, owner: u.id, created: u.created, updated: u.updated,
			upstream: u.upstream, email: u.email})
		if (i+1)%100_000 == 0 {
			fmt.Fprintf(os.Stderr, "  users: %d (%s)\n", i+1, time.Since(start).Round(time.Second))
		}
	}
	if _, err := us.ExecContext(ctx); err != nil {
		return err
	}
	if err := us.Close(); err != nil {
		return err
	}
	is, err := tx.PrepareContext(ctx, pq.CopyIn("identities", "id", "created_at", "updated_at", "provider",
		"upstream_id", "is_social", "profile_data", "email_lower", "username", "password_hash", "password_history",
		"tokens_sealed", "connection_id", "owner_id"))
	if err != nil {
		return err
	}
	for i, u := range idents {
		if _, err := is.ExecContext(ctx, u.id, u.created, u.updated, "auth0", u.upstream, false, nil, u.email,
			nil, hash, nil, nil, connID, u.owner); err != nil {
			return err
		}
		if (i+1)%200_000 == 0 {
			fmt.Fprintf(os.Stderr, "  identities: %d (%s)\n", i+1, time.Since(start).Round(time.Second))
		}
	}
	if _, err := is.ExecContext(ctx); err != nil {
		return err
	}
	if err := is.Close(); err != nil {
		return err
	}
	return tx.Commit()
}

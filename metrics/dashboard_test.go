package metrics_test

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/authgraph/authgraph/metrics"
)

// TestDashboardQueriesKnownSeries: every series the Grafana dashboard in
// deploy/ queries is one this registry exports, so a renamed metric cannot
// leave a panel silently empty.
func TestDashboardQueriesKnownSeries(t *testing.T) {
	raw, err := os.ReadFile("../deploy/grafana/authgraph.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("the dashboard is not valid JSON: %v", err)
	}

	// A registry with one sample of everything, so that every vector has
	// a child and is gathered.
	r := metrics.New()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r.WatchDB("main", db)
	r.MustRegister(metrics.CacheCollector(func(fn func(string, uint64, uint64)) { fn("clients", 1, 1) }))
	r.Login("Username-Password-Authentication", "success")
	r.BruteForceBlock("Username-Password-Authentication")
	r.TokenIssued("client_credentials")
	r.TokenRefused("client_credentials", "invalid_client")
	r.RulesRun("ok", time.Millisecond)
	r.RuleFailed("timeout")
	r.Script("login", "ok", time.Millisecond)
	r.ScriptFailed("login", "timeout")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(http.ResponseWriter, *http.Request) {})
	r.Instrument(r.Routes(mux, nil)).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/healthz", nil))
	families, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, f := range families {
		known[f.GetName()] = true
	}

	series := regexp.MustCompile(`\b(?:authgraph|go|process)_[a-z0-9_]+`)
	queried := 0
	for _, p := range dash.Panels {
		for _, tgt := range p.Targets {
			for _, name := range series.FindAllString(tgt.Expr, -1) {
				queried++
				base := name
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					if b, ok := strings.CutSuffix(name, suffix); ok && known[b] {
						base = b
					}
				}
				if !known[base] {
					t.Errorf("panel %q queries %s, which the server does not export", p.Title, name)
				}
			}
		}
	}
	if queried < 10 {
		t.Fatalf("only %d series found in the dashboard's queries", queried)
	}
}

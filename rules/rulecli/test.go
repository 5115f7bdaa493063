package rulecli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/authgraph/authgraph/rules"
	rulessdk "github.com/authgraph/authgraph/rules-sdk"
)

// warmRuns is how many calls after the first one Test times.
const warmRuns = 20

// TestOptions say what Test runs a module on.
type TestOptions struct {
	// Event is the event file: a login event for a rule, one call
	// ({op, args, connection}) for a custom-database script. "" runs the
	// built-in sample of the module's kind.
	Event string
	// DSN is the database a custom-database script reaches ("" none: its
	// queries fail). Rules have none.
	DSN string
	// JavaScript says the file is JavaScript source (an Auth0 Action or
	// legacy Rule) whatever its name; a .js, .cjs or .mjs file is anyway.
	JavaScript bool
}

// Test runs the module on the event of opts with the engine's default
// limits and prints the result, the logs and the timing to w. A module that
// exports on_script runs as a custom-database script (testScript);
// JavaScript source runs as the server runs a JavaScript rule (testJavaScript).
//
// For a rule, the event's "secrets" are the rule's secrets (redacted from
// logs as on the server); a missing "now" is the current time. It returns
// the rule's error, after printing its logs, when the rule fails or exceeds
// a limit; a deny is a result.
func Test(modulePath string, opts TestOptions, w io.Writer) error {
	if opts.JavaScript || isJavaScriptPath(modulePath) {
		return testJavaScript(modulePath, opts, w)
	}
	module, err := os.ReadFile(modulePath)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if isScript(ctx, module) {
		return testScript(ctx, modulePath, module, opts, w)
	}
	if opts.DSN != "" {
		return errors.New("--dsn is for custom-database scripts: this module is a rule (it exports on_post_login, not on_script)")
	}
	ev, eventName, err := ruleEvent(opts.Event)
	if err != nil {
		return err
	}
	rv := rules.RuleVersion{
		ID:      orElse(ev.Rule.ID, "rul_test"),
		Name:    orElse(ev.Rule.Name, strings.TrimSuffix(filepath.Base(modulePath), ".wasm")),
		Version: "test",
		Module:  module,
		Secrets: ev.Secrets,
	}

	eng, err := rules.New(ctx, rules.Config{CacheDir: cacheDir()})
	if err != nil {
		return err
	}
	defer eng.Close(ctx)
	start := time.Now()
	if err := eng.Validate(ctx, module); err != nil {
		return err
	}
	if err := eng.Prepare(ctx, rv); err != nil {
		return err
	}
	prepared := time.Since(start)

	fmt.Fprintf(w, "rule      %s (%s, %s, ABI v1)\n", rv.Name, modulePath, humanBytes(len(module)))
	return runRule(ctx, eng, rv, ev, eventName, prepared, w)
}

// ruleEvent reads a rule's event file, or the built-in sample.
func ruleEvent(path string) (rules.Event, string, error) {
	var ev rules.Event
	raw, eventName, err := readEvent(path, ruleSampleEvent)
	if err != nil {
		return ev, "", err
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		return ev, "", fmt.Errorf("event %s: %w", eventName, err)
	}
	if path == "" {
		ev.Rule.Name = "" // the sample names a template; name the rule's file instead
	}
	return ev, eventName, nil
}

// runRule runs a prepared rule on ev once, prints what it did, then times
// warm calls.
func runRule(ctx context.Context, eng *rules.Engine, rv rules.RuleVersion, ev rules.Event, eventName string, prepared time.Duration, w io.Writer) error {
	fmt.Fprintf(w, "event     %s\n", eventName)
	res, err := eng.RunPipeline(ctx, []rules.RuleVersion{rv}, ev)
	if len(res.Runs) > 0 {
		printRun(w, res.Runs[0])
	}
	if err != nil {
		fmt.Fprintf(w, "error     %v\n", err)
		return err
	}
	printResult(w, &res)

	// Warm calls: what a login pays once the instance is pooled.
	var warm []time.Duration
	for range warmRuns {
		r, err := eng.RunPipeline(ctx, []rules.RuleVersion{rv}, ev)
		if err != nil {
			return err
		}
		warm = append(warm, r.Duration)
	}
	slices.Sort(warm)
	fmt.Fprintf(w, "timing    validate+compile %s · first call %s · warm median %s (p95 %s, %d calls) · limit %s\n",
		round(prepared), round(res.Duration), round(warm[len(warm)/2]), round(warm[len(warm)*95/100]), warmRuns,
		eng.Config().Timeout)
	return nil
}

func printRun(w io.Writer, run rules.RuleRun) {
	fmt.Fprintf(w, "logs      %d line(s)\n", len(run.Logs))
	for _, l := range run.Logs {
		fmt.Fprintf(w, "  | %s\n", l)
	}
	if len(run.DroppedClaims) > 0 {
		fmt.Fprintf(w, "dropped   %s (claims must be URL or URN namespaced and not restricted)\n", strings.Join(run.DroppedClaims, ", "))
	}
}

func printResult(w io.Writer, res *rules.PipelineResult) {
	if res.Deny != nil {
		fmt.Fprintf(w, "result    DENIED: access_denied: %s\n", res.Deny.Reason)
		return
	}
	fmt.Fprintln(w, "result    allowed")
	for _, s := range []struct {
		name string
		m    map[string]any
	}{
		{"id_token_claims", res.IDTokenClaims},
		{"access_token_claims", res.AccessTokenClaims},
		{"app_metadata", res.AppMetadata},
		{"user_metadata", res.UserMetadata},
	} {
		if len(s.m) > 0 {
			b, _ := json.Marshal(s.m)
			fmt.Fprintf(w, "%-9s %s\n", s.name, b)
		}
	}
	if res.LinkTo != nil {
		fmt.Fprintf(w, "link_to   %s (reserved in ABI v1)\n", res.LinkTo.UserID)
	}
	if c := res.RolesChange; c != nil {
		fmt.Fprintf(w, "roles     add [%s] remove [%s] (this login only)\n", strings.Join(c.Add, ", "), strings.Join(c.Remove, ", "))
	}
	if res.RequireMFA {
		fmt.Fprintln(w, `require_mfa yes: a login without "mfa" in authentication.methods goes to the MFA challenge first,`)
		fmt.Fprintln(w, "          and nothing above applies until the rules run again after it (ignored at refresh)")
	}
}

func round(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(100 * time.Nanosecond)
}

func humanBytes(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
}

func orElse(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// readEvent reads the event file, or the built-in sample (an archived file
// of the embedded SDK) when path is "". It returns the name to show.
func readEvent(path, sample string) ([]byte, string, error) {
	if path != "" {
		raw, err := os.ReadFile(path)
		return raw, path, err
	}
	fsys, err := rulessdk.FS()
	if err != nil {
		return nil, "", err
	}
	raw, err := fs.ReadFile(fsys, sample)
	return raw, "built-in sample (rules-sdk/" + sample + "; --event FILE to use yours)", err
}

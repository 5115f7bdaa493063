package rulecli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/authgraph/authgraph/rules"
)

// isJavaScriptPath tells JavaScript source by its file name.
func isJavaScriptPath(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".js", ".cjs", ".mjs":
		return true
	}
	return false
}

// testJavaScript runs an Auth0 post-login Action or legacy Rule as the
// server runs a JavaScript rule: the upload checks (syntax with line and
// column, available modules, shape), then the engine's JavaScript runtime
// with its limits, on the same event and with the same output as a module.
func testJavaScript(path string, opts TestOptions, w io.Writer) error {
	if opts.DSN != "" {
		return errors.New("--dsn is for custom-database scripts: a JavaScript file given here runs as a post-login rule")
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	ev, eventName, err := ruleEvent(opts.Event)
	if err != nil {
		return err
	}
	rv := rules.RuleVersion{
		ID:         orElse(ev.Rule.ID, "rul_test"),
		Name:       orElse(ev.Rule.Name, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))),
		Version:    "test",
		JavaScript: string(src),
		Secrets:    ev.Secrets,
	}
	ctx := context.Background()
	eng, err := rules.New(ctx, rules.Config{CacheDir: cacheDir()})
	if err != nil {
		return err
	}
	defer eng.Close(ctx)
	start := time.Now()
	if err := eng.ValidateJavaScript(ctx, rv.JavaScript); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := eng.Prepare(ctx, rv); err != nil {
		return err
	}
	prepared := time.Since(start)

	kind := "post-login Action"
	if rules.DetectKind(rv.JavaScript) == rules.KindRule {
		kind = "legacy Rule"
	}
	fmt.Fprintf(w, "rule      %s (%s, %s, JavaScript %s)\n", rv.Name, path, humanBytes(len(src)), kind)
	return runRule(ctx, eng, rv, ev, eventName, prepared, w)
}

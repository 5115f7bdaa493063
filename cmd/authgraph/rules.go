package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/authgraph/authgraph/rules/rulecli"
)

const rulesUsage = `usage:
  authgraph rules init DIR --lang go|assemblyscript [--template NAME]       write a new rule project (SDK included)
  authgraph rules init DIR --kind customdb --lang go|assemblyscript [--db postgres|mysql]
                                                                           write a custom-database script project
  authgraph rules build DIR -o OUT.wasm                                    build a rule or script and validate it
  authgraph rules test MODULE.wasm [--event EVENT.json] [--dsn DSN]        run a module with the server's engine and limits
  authgraph rules test RULE.js [--event EVENT.json] [--javascript]         run an Auth0 Action or Rule in JavaScript the same way
`

// cmdRules dispatches `authgraph rules init|build|test` (rules/rulecli does
// the work).
func cmdRules(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, rulesUsage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "init":
		return cmdRulesInit(args[1:], stdout, stderr)
	case "build":
		fs := flag.NewFlagSet("rules build", flag.ContinueOnError)
		fs.SetOutput(stderr)
		out := fs.String("o", "", "output module path (required)")
		pos, err := parseInterleaved(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 || *out == "" {
			return fmt.Errorf("usage: authgraph rules build DIR -o OUT.wasm")
		}
		if err := rulecli.Build(pos[0], *out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "built %s (validated with the server's upload checks)\n", *out)
		return nil
	case "test":
		fs := flag.NewFlagSet("rules test", flag.ContinueOnError)
		fs.SetOutput(stderr)
		var opts rulecli.TestOptions
		fs.StringVar(&opts.Event, "event", "", "event JSON file: a login event for a rule, {op, args, connection} for a custom-database script (default: a built-in sample)")
		fs.StringVar(&opts.DSN, "dsn", "", "custom-database scripts: the database their queries reach, postgres://… or mysql://… (default none)")
		fs.BoolVar(&opts.JavaScript, "javascript", false, "the file is JavaScript (an Auth0 post-login Action or legacy Rule) whatever its name (default: a .js, .cjs or .mjs file is)")
		pos, err := parseInterleaved(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return fmt.Errorf("usage: authgraph rules test MODULE.wasm|RULE.js [--event EVENT.json] [--dsn DSN] [--javascript]")
		}
		return rulecli.Test(pos[0], opts, stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, rulesUsage)
		return nil
	}
	fmt.Fprint(stderr, rulesUsage)
	return fmt.Errorf("unknown rules command %q", args[0])
}

// cmdRulesInit writes a new rule or custom-database script project.
func cmdRulesInit(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rules init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	lang := fs.String("lang", "", "go or assemblyscript (required)")
	kind := fs.String("kind", rulecli.KindRule, "rule (a post-login rule) or customdb (a custom-database connection's scripts)")
	tpl := fs.String("template", "", templatesHelp())
	db := fs.String("db", "", "customdb: the database of the template, postgres or mysql (default postgres)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *lang == "" {
		return fmt.Errorf("usage: authgraph rules init DIR --lang go|assemblyscript [--kind rule|customdb] [--template NAME] [--db postgres|mysql]")
	}
	name := *tpl
	switch {
	case *db != "" && *kind != rulecli.KindCustomDB:
		return fmt.Errorf("--db is for --kind customdb")
	case *db != "" && *tpl != "" && *db != *tpl:
		return fmt.Errorf("--db %s and --template %s disagree: a custom-database template is its database", *db, *tpl)
	case *db != "":
		name = *db
	}
	dir := pos[0]
	files, err := rulecli.Init(rulecli.InitOptions{Dir: dir, Language: rulecli.Language(*lang), Kind: *kind, Template: name})
	if err != nil {
		return err
	}
	if name == "" {
		name = rulecli.DefaultTemplate(*kind)
	}
	fmt.Fprintf(stdout, "wrote %s: %s project (%s, template %s, %d files). Next:\n", dir, *kind, *lang, name, len(files))
	fmt.Fprintf(stdout, "  cd %s\n", dir)
	if rulecli.Language(*lang) == rulecli.AssemblyScript {
		fmt.Fprintln(stdout, "  npm install")
	}
	if *kind == rulecli.KindCustomDB {
		fmt.Fprintln(stdout, "  authgraph rules build . -o script.wasm")
		fmt.Fprintln(stdout, "  authgraph rules test script.wasm --event event.json --dsn 'postgres://…'")
		return nil
	}
	fmt.Fprintln(stdout, "  authgraph rules build . -o rule.wasm")
	fmt.Fprintln(stdout, "  authgraph rules test rule.wasm --event event.json")
	return nil
}

// templatesHelp lists the embedded templates for --template's help.
func templatesHelp() string {
	var b strings.Builder
	b.WriteString("template to start from:")
	for _, k := range []string{rulecli.KindRule, rulecli.KindCustomDB} {
		names, err := rulecli.Templates(k, rulecli.Go)
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, " %s: %s (default %s);", k, strings.Join(names, ", "), rulecli.DefaultTemplate(k))
	}
	return strings.TrimSuffix(b.String(), ";")
}

// parseInterleaved parses flags placed before, between or after positional
// arguments (`rules build DIR -o OUT`), which flag.Parse alone stops at.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

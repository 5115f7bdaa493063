package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/authgraph/authgraph/rules/rulecli"
)

const rulesUsage = `usage:
  authgraph rules build DIR -o OUT.wasm              build a Go or AssemblyScript rule and validate it
  authgraph rules test MODULE.wasm --event EVENT.json  run a module on an event with the server's engine and limits
`

// cmdRules dispatches `authgraph rules build|test` (rules/rulecli does the
// work).
func cmdRules(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, rulesUsage)
		return flag.ErrHelp
	}
	switch args[0] {
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
		event := fs.String("event", "", "event JSON file (see rules-sdk/templates/events/login.json) (required)")
		pos, err := parseInterleaved(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 || *event == "" {
			return fmt.Errorf("usage: authgraph rules test MODULE.wasm --event EVENT.json")
		}
		return rulecli.Test(pos[0], *event, stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, rulesUsage)
		return nil
	}
	fmt.Fprint(stderr, rulesUsage)
	return fmt.Errorf("unknown rules command %q", args[0])
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

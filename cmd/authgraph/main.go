// Command authgraph is the Authgraph server and its operator tools. main
// only parses arguments and wires packages together.
//
//	authgraph serve [flags]                 run the server
//	authgraph migrate [flags]               apply pending database migrations
//	authgraph admins add|remove EMAIL | list      manage dashboard administrators
//	authgraph rules init DIR --lang go|assemblyscript [--template NAME] [--kind customdb --db postgres|mysql]
//	authgraph rules build DIR -o OUT.wasm | rules test MODULE.wasm [--event EVENT.json] [--dsn DSN]
//	authgraph users export --format ndjson|csv -o FILE [--fields F,…] [--connection NAME] [--include-password-hashes]
//	authgraph keys reencrypt [flags]        re-seal stored secrets with the first master key
//	authgraph logs tail [--type T,…] [--user ID] [--format json|text] [--since 10m]
//	authgraph clients create --name N --type m2m|spa|regular_web|native [--redirect-uri U]… [--web-origin O]… [--scopes "…"] [--json]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "authgraph:", err)
		}
		os.Exit(2)
	}
}

const usage = `usage: authgraph <command> [flags]

commands:
  serve            run the server (default database: sqlite:authgraph.db)
  migrate          apply pending database migrations
  clients create   register an application and print its credentials
  rules            init DIR --lang go|assemblyscript, build DIR -o OUT.wasm, test MODULE.wasm:
                   write, build and try post-login rules and custom-database scripts
  admins           add|remove EMAIL, list: manage dashboard administrators
  users import     FILE --connection NAME [--upsert]: import Auth0's bulk-import file, with progress
  users export     --format ndjson|csv -o FILE: export users (gzip, Auth0's format)
  keys reencrypt   re-seal every stored secret with the first key of AUTHGRAPH_MASTER_KEY
  logs tail        [--type T,…] [--user ID] [--format json|text] [--since 10m]: follow the tenant log

Run 'authgraph <command> -h' for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return cmdServe(ctx, args[1:], stderr)
	case "migrate":
		return cmdMigrate(ctx, args[1:], stdout, stderr)
	case "clients":
		if len(args) > 1 && args[1] == "create" {
			return cmdClientsCreate(ctx, args[2:], stdout, stderr)
		}
		return fmt.Errorf("usage: authgraph clients create --name N --type m2m|spa|regular_web|native [--json]")
	case "admins":
		return cmdAdmins(ctx, args[1:], stdout, stderr)
	case "rules":
		return cmdRules(ctx, args[1:], stdout, stderr)
	case "users":
		if len(args) > 1 && args[1] == "export" {
			return cmdUsersExport(ctx, args[2:], stdout, stderr)
		}
		return cmdUsers(ctx, args[1:], stdout, stderr)
	case "keys":
		return cmdKeys(ctx, args[1:], stdout, stderr)
	case "logs":
		return cmdLogs(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

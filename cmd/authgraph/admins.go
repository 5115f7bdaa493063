package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/authgraph/authgraph/admins"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/server"
)

const adminsUsage = `usage: authgraph admins add EMAIL [--scopes "read:users …"]   grant dashboard access (default: every management scope)
       authgraph admins remove EMAIL                          revoke it
       authgraph admins list                                  list administrators`

// cmdAdmins manages dashboard administrators directly in the configured
// database. A grant goes to the one user whose email is EMAIL and verified;
// none or several such users is refused.
func cmdAdmins(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(adminsUsage)
	}
	sub := args[0]
	fs := flag.NewFlagSet("admins "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := server.FlagSet(fs)
	scopes := fs.String("scopes", "", "space-separated management scopes to grant (admins add; default every scope)")
	// Accept flags before or after EMAIL.
	var email string
	rest := args[1:]
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		email, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if email == "" && fs.NArg() > 0 {
		email = fs.Arg(0)
	}
	switch sub {
	case "add", "remove":
		if email == "" {
			return errors.New(adminsUsage)
		}
	case "list":
	default:
		return fmt.Errorf("unknown admins command %q\n%s", sub, adminsUsage)
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	deps, err := server.Prepare(ctx, cfg, server.NewLogger(cfg.LogFormat), stderr, server.MigrateIfEmpty)
	if err != nil {
		return err
	}
	defer deps.Close()
	sys := authz.SystemContext(ctx)
	db := deps.DB.Ent
	switch sub {
	case "add":
		u, err := admins.FindByEmail(sys, db, email)
		if err != nil {
			return err
		}
		want := strings.Fields(*scopes)
		if len(want) == 0 {
			want = authz.ManagementScopes()
		}
		g, err := admins.Grant(sys, db, u.ID, want)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s (%s) is an administrator with %d scopes: %s\n", email, u.UserID, len(g.Scopes), strings.Join(g.Scopes, " "))
	case "remove":
		u, err := admins.FindByEmail(sys, db, email)
		if err != nil {
			return err
		}
		if err := admins.Revoke(sys, db, u.ID); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s (%s) is no longer an administrator\n", email, u.UserID)
	case "list":
		gs, err := admins.List(sys, db)
		if err != nil {
			return err
		}
		for _, g := range gs {
			who := string(g.UserRef)
			if u := g.Edges.User; u != nil {
				who = u.UserID
				if u.Email != nil {
					who = *u.Email + "\t" + u.UserID
				}
			}
			fmt.Fprintf(stdout, "%s\t%s\n", who, strings.Join(g.Scopes, " "))
		}
	}
	return nil
}

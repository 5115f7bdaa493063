package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/authgraph/authgraph/apis"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/server"
)

// repeated collects a flag given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// cmdClientsCreate registers a client directly in the configured database,
// whether or not a server is running on it. What it prints must work against
// the server: the audience is the management API identifier the serving node
// recorded, not one computed from this command's (possibly default) issuer.
func cmdClientsCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("clients create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := server.FlagSet(fs)
	var (
		name, typ, scopes  string
		redirects, origins repeated
		logouts            repeated
		asJSON             bool
	)
	fs.StringVar(&name, "name", "", "client name (required)")
	fs.StringVar(&typ, "type", "", "m2m, spa, regular_web or native (required)")
	fs.Var(&redirects, "redirect-uri", "allowed redirect URI (repeatable)")
	fs.Var(&origins, "web-origin", "allowed web origin for CORS, scheme://host[:port] (repeatable)")
	fs.Var(&logouts, "logout-url", "allowed post-logout redirect URL (repeatable)")
	fs.StringVar(&scopes, "scopes", "", "space-separated management API scopes the client may be granted")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if name == "" || typ == "" {
		return fmt.Errorf("--name and --type are required")
	}
	issuerGiven := flagGiven(fs, "issuer") || os.Getenv("AUTHGRAPH_ISSUER") != ""
	cfg, err := load()
	if err != nil {
		return err
	}
	deps, err := server.Prepare(ctx, cfg, server.NewLogger(cfg.LogFormat), stderr, server.MigrateIfEmpty)
	if err != nil {
		return err
	}
	defer deps.Close()
	// Known before anything is created: a refusal leaves no client behind.
	audience, err := managementAudience(ctx, deps.DB.Ent, cfg.Issuer, issuerGiven, stderr)
	if err != nil {
		return err
	}
	// The same use case as the management APIs', so the creation is
	// audited like theirs (a sapi entry without a client: the operator).
	created, err := clients.Manager{DB: deps.DB.Ent}.Create(authz.SystemContext(ctx), clients.Params{
		Name:         name,
		Type:         typ,
		RedirectURIs: redirects,
		LogoutURLs:   logouts,
		WebOrigins:   origins,
		Scopes:       strings.Fields(scopes),
	})
	if err != nil {
		return err
	}
	out := map[string]any{
		"id":            created.Client.ID,
		"client_id":     created.Client.ClientID,
		"client_secret": created.Secret,
		"audience":      audience,
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(stdout, "id:            %s\nclient_id:     %s\nclient_secret: %s\naudience:      %s\n",
		created.Client.ID, created.Client.ClientID, created.Secret, out["audience"])
	return nil
}

// managementAudience is the management API's identifier (a token request's
// audience) as the serving node registered it, which follows the issuer the
// server runs with. On a database no server has run on yet, only an explicit
// --issuer (or AUTHGRAPH_ISSUER) tells it; without one it refuses rather than
// guess from the default. An explicit issuer that disagrees with the
// registered identifier is reported, and the registered one is used.
func managementAudience(ctx context.Context, db *ent.Client, issuer string, issuerGiven bool, stderr io.Writer) (string, error) {
	registered, err := apis.ManagementAPIIdentifier(ctx, db)
	switch {
	case errors.Is(err, apis.ErrManagementAPINotRegistered) && issuerGiven:
		return authz.ManagementAudience(issuer), nil
	case errors.Is(err, apis.ErrManagementAPINotRegistered):
		return "", fmt.Errorf("%w, and the management API audience follows the server's issuer: "+
			"start `authgraph serve` on this database once, or give the issuer the server will run with (--issuer or AUTHGRAPH_ISSUER)", err)
	case err != nil:
		return "", err
	}
	if issuerGiven && registered != authz.ManagementAudience(issuer) {
		fmt.Fprintf(stderr, "authgraph: warning: the server on this database registered the management API as %s, "+
			"not %s (--issuer %s): printing the server's\n", registered, authz.ManagementAudience(issuer), issuer)
	}
	return registered, nil
}

// flagGiven reports whether the flag name was set on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/server"
)

// repeated collects a flag given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// cmdClientsCreate registers a client directly in the configured database,
// whether or not a server is running on it.
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
	cfg, err := load()
	if err != nil {
		return err
	}
	deps, err := server.Prepare(ctx, cfg, server.NewLogger(cfg.LogFormat), stderr, server.MigrateIfEmpty)
	if err != nil {
		return err
	}
	defer deps.Close()
	created, err := clients.Create(authz.SystemContext(ctx), deps.DB.Ent, clients.Params{
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
		"audience":      authz.ManagementAudience(cfg.Issuer),
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

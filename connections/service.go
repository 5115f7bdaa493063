package connections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/application"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/secretbox"
)

// DefaultDatabase is the connection every new tenant starts with.
const DefaultDatabase = "Username-Password-Authentication"

// ErrNameTaken is returned when a connection name exists already.
var ErrNameTaken = errors.New("a connection with this name already exists")

// Service creates and edits connections, sealing secret options.
type Service struct {
	Box *secretbox.Box
	// Scripts validates custom-database scripts on write (scripts.go); nil
	// checks only their names and encoding.
	Scripts ScriptValidator
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,126}[A-Za-z0-9])?$`)

// CreateParams describe a new connection.
type CreateParams struct {
	Name           string
	Strategy       string
	Options        map[string]any
	EnabledClients []string
}

// Create validates and stores a connection.
func (s *Service) Create(ctx context.Context, db *ent.Client, p CreateParams) (*ent.Connection, error) {
	if !nameRE.MatchString(p.Name) {
		return nil, &OptionError{Key: "name", Message: "must be 1 to 128 letters, digits or dashes, starting and ending with a letter or digit"}
	}
	public, secret, err := Split(p.Strategy, p.Options)
	if err != nil {
		return nil, err
	}
	if err := checkComplete(p.Strategy, public, secret); err != nil {
		return nil, err
	}
	if err := s.checkScripts(ctx, p.Strategy, secret); err != nil {
		return nil, err
	}
	if err := checkClients(ctx, db, p.EnabledClients); err != nil {
		return nil, err
	}
	c := db.Connection.Create().
		SetName(p.Name).
		SetStrategy(connection.Strategy(p.Strategy)).
		SetOptions(public).
		SetSyncMode(connection.SyncMode(SyncMode(public))).
		SetEnabledClients(nonNil(p.EnabledClients)).
		SetSecretsSet(keys(secret))
	if len(secret) > 0 {
		c.SetSecretsSealed(s.seal(p.Name, secret))
	}
	conn, err := c.Save(ctx)
	if ent.IsConstraintError(err) {
		return nil, ErrNameTaken
	}
	return conn, err
}

// UpdateParams change a connection: given options replace stored ones key
// by key, a null removes a key; EnabledClients, when non-nil, replaces.
type UpdateParams struct {
	Options        map[string]any
	EnabledClients []string
}

// Update applies p to conn.
func (s *Service) Update(ctx context.Context, db *ent.Client, conn *ent.Connection, p UpdateParams) (*ent.Connection, error) {
	upd := db.Connection.UpdateOne(conn)
	if p.Options != nil {
		public, secret, err := Split(string(conn.Strategy), p.Options)
		if err != nil {
			return nil, err
		}
		storedSecret, err := s.Secrets(conn)
		if err != nil {
			return nil, err
		}
		newPublic := maps.Clone(conn.Options)
		if newPublic == nil {
			newPublic = map[string]any{}
		}
		for k, v := range p.Options {
			if v == nil {
				delete(newPublic, k)
				delete(storedSecret, k)
			}
		}
		// Scripts are merged key by key like options (a null removes one), so
		// modules too large to send together can be uploaded one at a time.
		// WebAssembly and JavaScript scripts alike.
		sets := mergeScriptSets(storedSecret, secret)
		if err := s.checkScripts(ctx, string(conn.Strategy), secret); err != nil {
			return nil, err
		}
		maps.Copy(newPublic, public)
		maps.Copy(storedSecret, secret)
		for key, merged := range sets {
			if len(merged) == 0 {
				delete(storedSecret, key)
			} else {
				storedSecret[key] = merged
			}
		}
		if err := checkComplete(string(conn.Strategy), newPublic, storedSecret); err != nil {
			return nil, err
		}
		upd.SetOptions(newPublic).
			SetSyncMode(connection.SyncMode(SyncMode(newPublic))).
			SetSecretsSet(keys(storedSecret))
		if len(storedSecret) > 0 {
			upd.SetSecretsSealed(s.seal(conn.Name, storedSecret))
		} else {
			upd.ClearSecretsSealed()
		}
	}
	if p.EnabledClients != nil {
		if err := checkClients(ctx, db, p.EnabledClients); err != nil {
			return nil, err
		}
		upd.SetEnabledClients(p.EnabledClients)
	}
	return upd.Save(ctx)
}

// Delete removes conn with its identities, and the users left without any.
func (s *Service) Delete(ctx context.Context, db *ent.Client, conn *ent.Connection) error {
	sys := authz.SystemContext(ctx)
	owners, err := db.Identity.Query().Where(identity.ConnectionID(conn.ID)).
		Select(identity.FieldOwnerID).Strings(sys)
	if err != nil {
		return err
	}
	// The schema means identities to cascade with their connection, but the
	// OnDelete annotation sits on Connection's inverse edge, which ent ignores:
	// the generated foreign key is NO ACTION, so deleting a connection that
	// still had identities failed with a constraint error (CONFLICT). Delete
	// them first, in the same transaction, as part of the delete:connections
	// write the caller is authorised for.
	if _, err := db.Identity.Delete().Where(identity.ConnectionID(conn.ID)).Exec(sys); err != nil {
		return err
	}
	if err := db.Connection.DeleteOne(conn).Exec(ctx); err != nil {
		return err
	}
	if len(owners) == 0 {
		return nil
	}
	ids := make([]pulid.ID, 0, len(owners))
	for _, o := range owners {
		ids = append(ids, pulid.ID(o))
	}
	_, err = db.User.Delete().Where(user.IDIn(ids...), user.Not(user.HasIdentities())).Exec(sys)
	return err
}

// Secrets opens conn's secret options (for connectors; never for the API).
func (s *Service) Secrets(conn *ent.Connection) (map[string]any, error) {
	out := map[string]any{}
	// ent scans a NULL bytes column of a Nillable field into a non-nil
	// pointer to a nil slice, so "no secrets" reads back as &[]byte(nil), not
	// nil: test the length, or every options update of a connection without
	// secrets fails trying to open an empty box.
	if conn.SecretsSealed == nil || len(*conn.SecretsSealed) == 0 {
		return out, nil
	}
	plain, err := s.Box.Open(*conn.SecretsSealed, sealAD(conn.Name))
	if err != nil {
		return nil, fmt.Errorf("opening secrets of connection %s: %w", conn.Name, err)
	}
	if err := json.Unmarshal(plain, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) seal(name string, secret map[string]any) []byte {
	b, err := json.Marshal(secret)
	if err != nil {
		panic(err) // values come from decoded JSON
	}
	return s.Box.Seal(b, sealAD(name))
}

func sealAD(name string) string { return "connection-secrets:" + name }

// checkClients verifies that every enabled client exists.
func checkClients(ctx context.Context, db *ent.Client, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	found, err := db.Application.Query().Where(application.ClientIDIn(ids...)).
		Select(application.FieldClientID).Strings(authz.SystemContext(ctx))
	if err != nil {
		return err
	}
	for _, id := range ids {
		if !slices.Contains(found, id) {
			return &OptionError{Key: "enabledClients", Message: fmt.Sprintf("names unknown client %q", id)}
		}
	}
	return nil
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// mergeScripts applies a scripts patch to the stored scripts: given keys
// replace, null values delete. It returns the non-null given scripts (to
// validate) and the merged result; both nil when no scripts were given.
func mergeScripts(stored, patch any) (given, merged map[string]any) {
	p, ok := patch.(map[string]any)
	if !ok {
		return nil, nil
	}
	merged = map[string]any{}
	if s, ok := stored.(map[string]any); ok {
		maps.Copy(merged, s)
	}
	given = map[string]any{}
	for k, v := range p {
		if v == nil {
			delete(merged, k)
			continue
		}
		given[k], merged[k] = v, v
	}
	return given, merged
}

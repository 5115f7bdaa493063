package oidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/signingkey"
	"github.com/authgraph/authgraph/secretbox"
)

// Defaults of a KeySet. Each is a field on KeySet and may be changed before
// first use.
const (
	// DefaultRetention keeps a retired key in the JWKS for the longest access
	// token lifetime (86,400 s) plus DefaultRefreshInterval (a node that has
	// not yet seen a rotation done elsewhere may still sign with the old key)
	// plus the verifier's leeway, so no token that was valid when issued
	// stops verifying before it expires.
	DefaultRetention = 24*time.Hour + DefaultRefreshInterval + time.Minute
	// DefaultRefreshInterval is how long the in-memory key cache is trusted
	// before it is reloaded from the database: the delay after which a node
	// notices a rotation or retirement made by another node.
	DefaultRefreshInterval = time.Minute
	// DefaultMinReload is the shortest time between two reloads caused by an
	// unknown kid, so tokens carrying random kids cannot hammer the database.
	DefaultMinReload = 5 * time.Second
)

// keyBits is the RSA modulus size of new signing keys.
const keyBits = 2048

// ErrNoSigningKey is returned by Signer when the database holds no active
// key: KeySet.Ensure was not run.
var ErrNoSigningKey = errors.New("no active signing key (run KeySet.Ensure at start-up)")

// ErrUnknownKey is returned by PublicKey for a kid that is not (or no longer)
// in the key set.
var ErrUnknownKey = errors.New("unknown signing key")

// KeySet holds the OpenID Provider's RS256 signing keys. Private keys are
// stored sealed with the master key (secretbox, associated data
// "signing_key:"+kid, PKCS#8 DER inside); public keys are stored as PKIX DER.
// Keys are cached in memory: signing and verifying do not touch the database
// while the cache is fresh. It is safe for concurrent use.
//
// All database access runs as the system (authz.SystemContext): signing keys
// are reachable by no token.
type KeySet struct {
	// Retention is how long a retired key stays in the JWKS and keeps
	// verifying tokens (default DefaultRetention).
	Retention time.Duration
	// RefreshInterval is how long the cache is used before a reload
	// (default DefaultRefreshInterval).
	RefreshInterval time.Duration
	// MinReload rate-limits reloads triggered by unknown kids (default
	// DefaultMinReload).
	MinReload time.Duration

	db  *ent.Client
	box *secretbox.Box
	now func() time.Time

	loadMu sync.Mutex // serialises reloads and key creation

	mu       sync.RWMutex
	loaded   time.Time // when the cache was last filled; zero before the first load
	tried    time.Time // when a reload was last attempted
	active   *privateKey
	public   map[string]*publicKey // by kid: active and retired keys within Retention
	jwksList []op.Key              // public, newest first
}

// NewKeySet returns a key set stored in db, with private keys sealed by box.
func NewKeySet(db *ent.Client, box *secretbox.Box) *KeySet {
	return &KeySet{
		Retention:       DefaultRetention,
		RefreshInterval: DefaultRefreshInterval,
		MinReload:       DefaultMinReload,
		db:              db,
		box:             box,
		now:             time.Now,
	}
}

// privateKey is the active signing key; it implements op.SigningKey.
type privateKey struct {
	kid string
	key *rsa.PrivateKey
}

func (k *privateKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *privateKey) Key() any                                    { return k.key }
func (k *privateKey) ID() string                                  { return k.kid }

// publicKey is a verification key; it implements op.Key.
type publicKey struct {
	kid       string
	key       *rsa.PublicKey
	retiredAt *time.Time
}

func (k *publicKey) ID() string                         { return k.kid }
func (k *publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *publicKey) Use() string                        { return "sig" }
func (k *publicKey) Key() any                           { return k.key }

// sealAD is the associated data binding a sealed private key to its kid.
func sealAD(kid string) string { return "signing_key:" + kid }

// Ensure creates a signing key when the database holds no active one, then
// loads the keys, which checks that the master key opens the active one.
// Run it at start-up, inside store.DB.WithLock so that two nodes starting
// together do not both create a key (harmless, but untidy).
func (s *KeySet) Ensure(ctx context.Context) error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	sctx := authz.SystemContext(ctx)
	n, err := s.db.SigningKey.Query().Where(signingkey.RetiredAtIsNil()).Count(sctx)
	if err != nil {
		return fmt.Errorf("signing keys: counting active keys: %w", err)
	}
	if n == 0 {
		if err := s.create(sctx, s.db); err != nil {
			return err
		}
	}
	return s.reloadLocked(ctx)
}

// Rotate retires every active key and creates a new one, which signs from
// now on. Retired keys keep verifying for Retention. Other nodes switch to
// the new key within RefreshInterval.
func (s *KeySet) Rotate(ctx context.Context) error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	sctx := authz.SystemContext(ctx)
	tx, err := s.db.Tx(sctx)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	if err := tx.SigningKey.Update().Where(signingkey.RetiredAtIsNil()).SetRetiredAt(s.now().UTC()).Exec(sctx); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("signing keys: retiring: %w", err)
	}
	if err := s.create(sctx, tx.Client()); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	return s.reloadLocked(ctx)
}

// create generates and stores a new RSA-2048 key. ctx is a system context.
func (s *KeySet) create(ctx context.Context, db *ent.Client) error {
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return fmt.Errorf("signing keys: generating: %w", err)
	}
	priv, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	kid := newKID()
	err = db.SigningKey.Create().
		SetKid(kid).
		SetAlgorithm(string(jose.RS256)).
		SetPrivateSealed(s.box.Seal(priv, sealAD(kid))).
		SetPublicDer(pub).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("signing keys: storing: %w", err)
	}
	return nil
}

// newKID returns a random key id (96 bits, base64url).
func newKID() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Signer returns the active signing key (the newest non-retired one).
func (s *KeySet) Signer(ctx context.Context) (op.SigningKey, error) {
	if err := s.refreshIfStale(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	k := s.active
	s.mu.RUnlock()
	if k == nil {
		return nil, ErrNoSigningKey
	}
	return k, nil
}

// PublicKeys returns the keys that belong in the JWKS: every active key and
// every retired key still within Retention, newest first.
func (s *KeySet) PublicKeys(ctx context.Context) ([]op.Key, error) {
	if err := s.refreshIfStale(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.now()
	out := make([]op.Key, 0, len(s.jwksList))
	for _, k := range s.jwksList {
		if s.usable(k.(*publicKey), now) {
			out = append(out, k)
		}
	}
	return out, nil
}

// PublicKey returns the verification key kid. A kid missing from the cache
// triggers a reload at most once per MinReload; ErrUnknownKey when it is
// still unknown (or retired for longer than Retention).
func (s *KeySet) PublicKey(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	now := s.now()
	s.mu.RLock()
	k, ok := s.public[kid]
	fresh := !s.loaded.IsZero() && now.Sub(s.loaded) < s.RefreshInterval
	s.mu.RUnlock()
	if ok && fresh {
		if !s.usable(k, now) {
			return nil, ErrUnknownKey
		}
		return k.key, nil
	}
	if err := s.reload(ctx, !ok); err != nil {
		if ok && s.usable(k, now) {
			// The database is unreachable, but the cached key is still
			// within its lifetime: keep verifying with it.
			return k.key, nil
		}
		return nil, err
	}
	s.mu.RLock()
	k, ok = s.public[kid]
	s.mu.RUnlock()
	if !ok || !s.usable(k, now) {
		return nil, ErrUnknownKey
	}
	return k.key, nil
}

// usable reports whether k may verify at now.
func (s *KeySet) usable(k *publicKey, now time.Time) bool {
	return k.retiredAt == nil || now.Sub(*k.retiredAt) < s.Retention
}

// refreshIfStale reloads when the cache is older than RefreshInterval. When
// the reload fails but keys were loaded before, the stale cache keeps
// serving: an unreachable database must not stop signing and verifying.
func (s *KeySet) refreshIfStale(ctx context.Context) error {
	s.mu.RLock()
	loaded := s.loaded
	s.mu.RUnlock()
	if !loaded.IsZero() && s.now().Sub(loaded) < s.RefreshInterval {
		return nil
	}
	if err := s.reload(ctx, false); err != nil && loaded.IsZero() {
		return err
	}
	return nil
}

// errNotLoaded is returned while no load has succeeded and reloads are
// rate-limited.
var errNotLoaded = errors.New("signing keys: not loaded (database unavailable?)")

// reload refills the cache unless another goroutine just did. Attempts are
// rate-limited to one per MinReload, whatever triggers them; unknownKid
// marks a reload wanted because a kid is missing from a fresh cache.
func (s *KeySet) reload(ctx context.Context, unknownKid bool) error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	s.mu.RLock()
	loaded, tried := s.loaded, s.tried
	s.mu.RUnlock()
	now := s.now()
	if !unknownKid && !loaded.IsZero() && now.Sub(loaded) < s.RefreshInterval {
		return nil // another goroutine reloaded while we waited
	}
	if !tried.IsZero() && now.Sub(tried) < s.MinReload {
		if loaded.IsZero() {
			return errNotLoaded
		}
		return nil // rate-limited: answer from the cache
	}
	return s.reloadLocked(ctx)
}

// Reload reads the keys from the database now, whatever RefreshInterval and
// MinReload say: for a rotation or retirement another node announced
// (store.OnRemoteChange). It waits for a reload in progress, which may have
// read the keys before the change.
func (s *KeySet) Reload(ctx context.Context) error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	return s.reloadLocked(ctx)
}

// reloadLocked reads every key that may still verify. The caller holds
// loadMu. Private keys are decrypted only for the active key, and reused
// from the cache when already decrypted.
func (s *KeySet) reloadLocked(ctx context.Context) error {
	now := s.now()
	s.mu.Lock()
	s.tried = now
	prevActive := s.active
	prevPublic := s.public
	s.mu.Unlock()

	rows, err := s.db.SigningKey.Query().
		Where(signingkey.Or(
			signingkey.RetiredAtIsNil(),
			signingkey.RetiredAtGT(now.Add(-s.Retention)),
		)).
		Order(ent.Desc(signingkey.FieldCreatedAt), ent.Desc(signingkey.FieldID)).
		All(authz.SystemContext(ctx))
	if err != nil {
		return fmt.Errorf("signing keys: loading: %w", err)
	}
	public := make(map[string]*publicKey, len(rows))
	list := make([]op.Key, 0, len(rows))
	var active *privateKey
	for _, row := range rows {
		if row.Algorithm != string(jose.RS256) {
			continue // only RS256 keys exist today
		}
		pk := &publicKey{kid: row.Kid, retiredAt: row.RetiredAt}
		if prev, ok := prevPublic[row.Kid]; ok {
			pk.key = prev.key
		} else {
			parsed, err := x509.ParsePKIXPublicKey(row.PublicDer)
			if err != nil {
				return fmt.Errorf("signing keys: key %s: public key: %w", row.Kid, err)
			}
			rsaKey, ok := parsed.(*rsa.PublicKey)
			if !ok {
				return fmt.Errorf("signing keys: key %s is not an RSA key", row.Kid)
			}
			pk.key = rsaKey
		}
		public[row.Kid] = pk
		list = append(list, pk)
		if active == nil && row.RetiredAt == nil {
			if prevActive != nil && prevActive.kid == row.Kid {
				active = prevActive
				continue
			}
			priv, err := s.openPrivate(row)
			if err != nil {
				return err
			}
			active = priv
		}
	}
	s.mu.Lock()
	s.active, s.public, s.jwksList, s.loaded = active, public, list, now
	s.mu.Unlock()
	return nil
}

func (s *KeySet) openPrivate(row *ent.SigningKey) (*privateKey, error) {
	der, err := s.box.Open(row.PrivateSealed, sealAD(row.Kid))
	if err != nil {
		return nil, fmt.Errorf("signing keys: key %s: %w", row.Kid, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signing keys: key %s: private key: %w", row.Kid, err)
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing keys: key %s is not an RSA key", row.Kid)
	}
	// CRT values, so that signing never recomputes them (the parser
	// already does; this makes sure).
	key.Precompute()
	return &privateKey{kid: row.Kid, key: key}, nil
}

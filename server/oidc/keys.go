package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/authgraph/authgraph/apis"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/signingkey"
	"github.com/authgraph/authgraph/secretbox"
)

// Defaults of a KeySet. Each is a field on KeySet and may be changed before
// first use.
const (
	// DefaultRetention keeps a retired key in the JWKS for the longest
	// access token lifetime an API may be given (apis.MaxTokenLifetime, 30
	// days) plus DefaultRefreshInterval (a node that has not yet seen a
	// rotation done elsewhere may still sign with the old key) plus the
	// verifier's leeway, so no access token that was valid when issued stops
	// verifying before it expires, even when rotations are scheduled.
	DefaultRetention = apis.MaxTokenLifetime*time.Second + DefaultRefreshInterval + time.Minute
	// DefaultRefreshInterval is how long the in-memory key cache is trusted
	// before it is reloaded from the database: the delay after which a node
	// notices a rotation or retirement made by another node.
	DefaultRefreshInterval = time.Minute
	// DefaultMinReload is the shortest time between two reloads caused by an
	// unknown kid, so tokens carrying random kids cannot hammer the database.
	DefaultMinReload = 5 * time.Second
	// DefaultPublishAhead is how long before it starts signing a key made
	// by a scheduled rotation is published in the JWKS. The JWKS is served
	// with max-age=300, but some relying parties keep it for hours: a day
	// covers them.
	DefaultPublishAhead = 24 * time.Hour
)

// keyBits is the RSA modulus size of new signing keys.
const keyBits = 2048

// ErrNoSigningKey is returned by Signer when the database holds no active
// key: KeySet.Ensure was not run.
var ErrNoSigningKey = errors.New("no active signing key (run KeySet.Ensure at start-up)")

// ErrUnknownKey is returned by PublicKey for a kid that is not (or no longer)
// in the key set.
var ErrUnknownKey = errors.New("unknown signing key")

// KeySet holds the OpenID Provider's signing keys: RS256 (ID tokens and
// access tokens by default), and ES256 or EdDSA (Ed25519) for the access
// tokens of APIs that ask for them (created at first use). Private keys are
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
	// RotationPeriod turns scheduled rotation on (zero: off): each key
	// signs for this long, then its successor, made and published
	// PublishAhead earlier, takes over. See RotateIfDue.
	RotationPeriod time.Duration
	// PublishAhead is how long a scheduled successor is in the JWKS before
	// it signs (default DefaultPublishAhead).
	PublishAhead time.Duration

	db  *ent.Client
	box *secretbox.Box
	now func() time.Time

	loadMu sync.Mutex // serialises reloads and key creation

	mu       sync.RWMutex
	loaded   time.Time                                 // when the cache was last filled; zero before the first load
	tried    time.Time                                 // when a reload was last attempted
	signing  map[jose.SignatureAlgorithm][]*privateKey // unretired keys per algorithm, latest activation first
	public   map[string]*publicKey                     // by kid: unretired keys and retired ones within Retention
	jwksList []op.Key                                  // public, newest first
}

// NewKeySet returns a key set stored in db, with private keys sealed by box.
func NewKeySet(db *ent.Client, box *secretbox.Box) *KeySet {
	return &KeySet{
		Retention:       DefaultRetention,
		RefreshInterval: DefaultRefreshInterval,
		MinReload:       DefaultMinReload,
		PublishAhead:    DefaultPublishAhead,
		db:              db,
		box:             box,
		now:             time.Now,
	}
}

// Algorithms are the signature algorithms keys can have: the JWS names an
// API's signing_alg takes.
var Algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

// ErrUnsupportedAlgorithm is returned for a signing algorithm not in
// Algorithms.
var ErrUnsupportedAlgorithm = errors.New("unsupported signing algorithm (RS256, ES256 or EdDSA)")

// privateKey is a signing key; it implements op.SigningKey.
type privateKey struct {
	kid         string
	alg         jose.SignatureAlgorithm
	key         crypto.Signer // *rsa.PrivateKey, *ecdsa.PrivateKey or ed25519.PrivateKey
	activatesAt time.Time     // when it starts signing (zero unless scheduled)
}

func (k *privateKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *privateKey) Key() any                                    { return k.key }
func (k *privateKey) ID() string                                  { return k.kid }

// publicKey is a verification key; it implements op.Key.
type publicKey struct {
	kid       string
	alg       jose.SignatureAlgorithm
	key       crypto.PublicKey
	retiredAt *time.Time
}

func (k *publicKey) ID() string                         { return k.kid }
func (k *publicKey) Algorithm() jose.SignatureAlgorithm { return k.alg }
func (k *publicKey) Use() string                        { return "sig" }
func (k *publicKey) Key() any                           { return k.key }

// sealAD is the associated data binding a sealed private key to its kid.
func sealAD(kid string) string { return "signing_key:" + kid }

// SealAD is the associated data of a signing key's sealed private key (for
// re-encryption under a new master key).
func SealAD(kid string) string { return sealAD(kid) }

// Ensure creates an RS256 signing key when the database holds no active
// one, then loads the keys, which checks that the master key opens the
// active ones. Run it at start-up, inside store.DB.WithLock so that two
// nodes starting together do not both create a key (harmless, but untidy).
func (s *KeySet) Ensure(ctx context.Context) error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	sctx := authz.SystemContext(ctx)
	n, err := s.db.SigningKey.Query().Where(signingkey.RetiredAtIsNil(), signingkey.Algorithm(string(jose.RS256))).Count(sctx)
	if err != nil {
		return fmt.Errorf("signing keys: counting active keys: %w", err)
	}
	if n == 0 {
		if err := s.create(sctx, s.db, jose.RS256, newKID(), nil); err != nil {
			return err
		}
	}
	return s.reloadLocked(ctx)
}

// Rotate retires every unretired key (scheduled successors too) and creates
// a new one of each algorithm in use, which signs from now on. Retired keys
// keep verifying for Retention. Other nodes switch to the new keys within
// RefreshInterval.
func (s *KeySet) Rotate(ctx context.Context) error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	sctx := authz.SystemContext(ctx)
	tx, err := s.db.Tx(sctx)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	inUse, err := tx.SigningKey.Query().Where(signingkey.RetiredAtIsNil()).
		Unique(true).Select(signingkey.FieldAlgorithm).Strings(sctx)
	if err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("signing keys: %w", err)
	}
	if !slices.Contains(inUse, string(jose.RS256)) {
		inUse = append(inUse, string(jose.RS256))
	}
	if err := tx.SigningKey.Update().Where(signingkey.RetiredAtIsNil()).SetRetiredAt(s.now().UTC()).Exec(sctx); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("signing keys: retiring: %w", err)
	}
	for _, alg := range inUse {
		if !slices.Contains(Algorithms, jose.SignatureAlgorithm(alg)) {
			continue
		}
		if err := s.create(sctx, tx.Client(), jose.SignatureAlgorithm(alg), newKID(), nil); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	return s.reloadLocked(ctx)
}

// generate returns a new private key of alg.
func generate(alg jose.SignatureAlgorithm) (crypto.Signer, error) {
	switch alg {
	case jose.RS256:
		return rsa.GenerateKey(rand.Reader, keyBits)
	case jose.ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, ErrUnsupportedAlgorithm
}

// create generates and stores a new key of alg. activatesAt nil: it signs
// from now on. ctx is a system context.
func (s *KeySet) create(ctx context.Context, db *ent.Client, alg jose.SignatureAlgorithm, kid string, activatesAt *time.Time) error {
	key, err := generate(alg)
	if err != nil {
		return fmt.Errorf("signing keys: generating: %w", err)
	}
	priv, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	err = db.SigningKey.Create().
		SetKid(kid).
		SetAlgorithm(string(alg)).
		SetPrivateSealed(s.box.Seal(priv, sealAD(kid))).
		SetPublicDer(pub).
		SetNillableActivatesAt(activatesAt).
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

// Signer returns the active RS256 signing key (ID tokens, and access
// tokens of APIs that keep the default algorithm).
func (s *KeySet) Signer(ctx context.Context) (op.SigningKey, error) {
	return s.SignerFor(ctx, jose.RS256)
}

// SignerFor returns the active key of alg: among unretired keys of alg
// whose activation time has come, the latest activated. An ES256 or EdDSA
// key is created at first use; an RS256 key must exist (Ensure).
func (s *KeySet) SignerFor(ctx context.Context, alg jose.SignatureAlgorithm) (op.SigningKey, error) {
	if !slices.Contains(Algorithms, alg) {
		return nil, ErrUnsupportedAlgorithm
	}
	if err := s.refreshIfStale(ctx); err != nil {
		return nil, err
	}
	if k := s.activeKey(alg, s.now()); k != nil {
		return k, nil
	}
	if alg == jose.RS256 {
		return nil, ErrNoSigningKey
	}
	if err := s.ensureAlg(ctx, alg); err != nil {
		return nil, err
	}
	if k := s.activeKey(alg, s.now()); k != nil {
		return k, nil
	}
	return nil, ErrNoSigningKey
}

// activeKey returns the key of alg that signs at now, nil when none.
func (s *KeySet) activeKey(alg jose.SignatureAlgorithm, now time.Time) *privateKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, k := range s.signing[alg] {
		if !k.activatesAt.After(now) {
			return k
		}
	}
	return nil
}

// ensureAlg creates a key of alg unless the database has an unretired one
// (another node may have made it), then reloads.
func (s *KeySet) ensureAlg(ctx context.Context, alg jose.SignatureAlgorithm) error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	sctx := authz.SystemContext(ctx)
	n, err := s.db.SigningKey.Query().Where(signingkey.RetiredAtIsNil(), signingkey.Algorithm(string(alg))).Count(sctx)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	if n == 0 {
		if err := s.create(sctx, s.db, alg, newKID(), nil); err != nil {
			return err
		}
	}
	return s.reloadLocked(ctx)
}

// PublicKeys returns the keys that belong in the JWKS: every unretired key
// (scheduled successors included, so relying parties know them before they
// sign) and every retired key still within Retention, newest first.
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

// PublicKey returns the verification key kid and its algorithm. A kid
// missing from the cache triggers a reload at most once per MinReload;
// ErrUnknownKey when it is still unknown (or retired for longer than
// Retention).
func (s *KeySet) PublicKey(ctx context.Context, kid string) (crypto.PublicKey, jose.SignatureAlgorithm, error) {
	now := s.now()
	s.mu.RLock()
	k, ok := s.public[kid]
	fresh := !s.loaded.IsZero() && now.Sub(s.loaded) < s.RefreshInterval
	s.mu.RUnlock()
	if ok && fresh {
		if !s.usable(k, now) {
			return nil, "", ErrUnknownKey
		}
		return k.key, k.alg, nil
	}
	if err := s.reload(ctx, !ok); err != nil {
		if ok && s.usable(k, now) {
			// The database is unreachable, but the cached key is still
			// within its lifetime: keep verifying with it.
			return k.key, k.alg, nil
		}
		return nil, "", err
	}
	s.mu.RLock()
	k, ok = s.public[kid]
	s.mu.RUnlock()
	if !ok || !s.usable(k, now) {
		return nil, "", ErrUnknownKey
	}
	return k.key, k.alg, nil
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

// activation is when row starts (or started) signing: the start of its
// rotation period.
func activation(row *ent.SigningKey) time.Time {
	if row.ActivatesAt != nil {
		return *row.ActivatesAt
	}
	return row.CreatedAt
}

// signsFrom is when row may sign: its scheduled activation, or any time
// (zero) for a key made to sign at once, whatever the clocks of the node
// that made it and of this one say.
func signsFrom(row *ent.SigningKey) time.Time {
	if row.ActivatesAt != nil {
		return *row.ActivatesAt
	}
	return time.Time{}
}

// reloadLocked reads every key that may still verify. The caller holds
// loadMu. Private keys are decrypted for unretired keys only (a scheduled
// successor too, so it signs at its time without a reload), and reused
// from the cache when already decrypted.
func (s *KeySet) reloadLocked(ctx context.Context) error {
	now := s.now()
	s.mu.Lock()
	s.tried = now
	prevSigning := s.signing
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
	prevPrivate := map[string]*privateKey{}
	for _, ks := range prevSigning {
		for _, k := range ks {
			prevPrivate[k.kid] = k
		}
	}
	public := make(map[string]*publicKey, len(rows))
	list := make([]op.Key, 0, len(rows))
	signing := map[jose.SignatureAlgorithm][]*privateKey{}
	for _, row := range rows {
		alg := jose.SignatureAlgorithm(row.Algorithm)
		if !slices.Contains(Algorithms, alg) {
			continue // written by a newer release
		}
		pk := &publicKey{kid: row.Kid, alg: alg, retiredAt: row.RetiredAt}
		if prev, ok := prevPublic[row.Kid]; ok {
			pk.key = prev.key
		} else {
			parsed, err := x509.ParsePKIXPublicKey(row.PublicDer)
			if err != nil {
				return fmt.Errorf("signing keys: key %s: public key: %w", row.Kid, err)
			}
			if err := checkKeyType(alg, parsed); err != nil {
				return fmt.Errorf("signing keys: key %s: %w", row.Kid, err)
			}
			pk.key = parsed
		}
		public[row.Kid] = pk
		list = append(list, pk)
		if row.RetiredAt != nil {
			continue
		}
		priv := prevPrivate[row.Kid]
		if priv == nil {
			if priv, err = s.openPrivate(row, alg); err != nil {
				return err
			}
		}
		signing[alg] = append(signing[alg], priv)
	}
	for alg, ks := range signing {
		slices.SortStableFunc(ks, func(a, b *privateKey) int { return b.activatesAt.Compare(a.activatesAt) })
		// A key superseded by an activated successor signs no more: it
		// counts as retired from its successor's activation (RotateIfDue
		// records that in the database).
		for i, k := range ks {
			if !k.activatesAt.After(now) {
				for _, old := range ks[i+1:] {
					if at := k.activatesAt; !at.IsZero() {
						public[old.kid].retiredAt = &at
					}
				}
				signing[alg] = ks[:i+1]
				break
			}
		}
	}
	s.mu.Lock()
	s.signing, s.public, s.jwksList, s.loaded = signing, public, list, now
	s.mu.Unlock()
	return nil
}

// checkKeyType checks that a parsed key is of alg's type.
func checkKeyType(alg jose.SignatureAlgorithm, key any) error {
	ok := false
	switch k := key.(type) {
	case *rsa.PublicKey, *rsa.PrivateKey:
		ok = alg == jose.RS256
	case *ecdsa.PublicKey:
		ok = alg == jose.ES256 && k.Curve == elliptic.P256()
	case *ecdsa.PrivateKey:
		ok = alg == jose.ES256 && k.Curve == elliptic.P256()
	case ed25519.PublicKey, ed25519.PrivateKey:
		ok = alg == jose.EdDSA
	}
	if !ok {
		return fmt.Errorf("key type %T does not match algorithm %s", key, alg)
	}
	return nil
}

func (s *KeySet) openPrivate(row *ent.SigningKey, alg jose.SignatureAlgorithm) (*privateKey, error) {
	der, err := s.box.Open(row.PrivateSealed, sealAD(row.Kid))
	if err != nil {
		return nil, fmt.Errorf("signing keys: key %s: %w", row.Kid, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signing keys: key %s: private key: %w", row.Kid, err)
	}
	if err := checkKeyType(alg, parsed); err != nil {
		return nil, fmt.Errorf("signing keys: key %s: %w", row.Kid, err)
	}
	if key, ok := parsed.(*rsa.PrivateKey); ok {
		// CRT values, so that signing never recomputes them (the parser
		// already does; this makes sure).
		key.Precompute()
	}
	return &privateKey{kid: row.Kid, alg: alg, key: parsed.(crypto.Signer), activatesAt: signsFrom(row)}, nil
}

// successorKID is the kid of the key that succeeds kid in a scheduled
// rotation. It is derived, not random, so that when several nodes sharing
// the database see the rotation due at once, the kid's unique index lets
// exactly one of them store the successor.
func successorKID(kid string) string {
	sum := sha256.Sum256([]byte("authgraph scheduled successor of " + kid))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// RotateIfDue runs the rotation schedule (RotationPeriod; nothing when
// zero). For each algorithm whose active key has signed for RotationPeriod
// minus PublishAhead and has no successor yet, it stores a successor that
// activates PublishAhead later (at the earliest when the period ends);
// keys superseded by an activated successor get their retired_at. Every
// node may run it: the successor's derived kid makes its creation happen
// once, and retiring is a conditional update. It reports whether it
// changed anything (the keys are then reloaded).
func (s *KeySet) RotateIfDue(ctx context.Context) (bool, error) {
	if s.RotationPeriod <= 0 {
		return false, nil
	}
	sctx := authz.SystemContext(ctx)
	rows, err := s.db.SigningKey.Query().Where(signingkey.RetiredAtIsNil()).
		Order(ent.Desc(signingkey.FieldCreatedAt), ent.Desc(signingkey.FieldID)).All(sctx)
	if err != nil {
		return false, fmt.Errorf("signing keys: %w", err)
	}
	now := s.now()
	byAlg := map[string][]*ent.SigningKey{}
	for _, r := range rows {
		byAlg[r.Algorithm] = append(byAlg[r.Algorithm], r)
	}
	changed := false
	for alg, ks := range byAlg {
		if !slices.Contains(Algorithms, jose.SignatureAlgorithm(alg)) {
			continue
		}
		slices.SortStableFunc(ks, func(a, b *ent.SigningKey) int { return signsFrom(b).Compare(signsFrom(a)) })
		var active *ent.SigningKey
		pending := false
		for i, k := range ks {
			if signsFrom(k).After(now) {
				pending = true
				continue
			}
			active = k
			// Older unretired keys were superseded when k activated.
			for _, old := range ks[i+1:] {
				n, err := s.db.SigningKey.Update().
					Where(signingkey.ID(old.ID), signingkey.RetiredAtIsNil()).
					SetRetiredAt(activation(k).UTC()).Save(sctx)
				if err != nil {
					return changed, fmt.Errorf("signing keys: retiring %s: %w", old.Kid, err)
				}
				changed = changed || n > 0
			}
			break
		}
		if active == nil || pending {
			continue
		}
		ahead := s.PublishAhead
		if ahead <= 0 {
			ahead = DefaultPublishAhead
		}
		due := activation(active).Add(s.RotationPeriod)
		if now.Before(due.Add(-ahead)) {
			continue
		}
		at := due
		if earliest := now.Add(ahead); at.Before(earliest) {
			at = earliest // the schedule was missed (no node running): still publish ahead
		}
		// Whole seconds, rounded up: databases keep microseconds at most,
		// and a truncated time would come before the publication margin.
		if whole := at.Truncate(time.Second); !whole.Equal(at) {
			at = whole.Add(time.Second)
		}
		at = at.UTC()
		err := s.create(sctx, s.db, jose.SignatureAlgorithm(alg), successorKID(active.Kid), &at)
		if ent.IsConstraintError(err) {
			continue // another node stored it first
		}
		if err != nil {
			return changed, err
		}
		changed = true
	}
	if changed {
		s.loadMu.Lock()
		defer s.loadMu.Unlock()
		return true, s.reloadLocked(ctx)
	}
	return false, nil
}

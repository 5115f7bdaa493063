package dbauth

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/passwords"
	"github.com/authgraph/authgraph/store"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/md4"
	"golang.org/x/crypto/scrypt"
)

// importedHashes returns an Auth0 custom_password_hash of pw for each
// algorithm Auth0 imports, computed with the standard library and x/crypto.
func importedHashes(t testing.TB, pw string) map[string]string {
	t.Helper()
	salt := []byte("pepper-and-salt")
	sum := func(h func() hash.Hash, parts ...[]byte) []byte {
		d := h()
		for _, p := range parts {
			d.Write(p)
		}
		return d.Sum(nil)
	}
	b64 := base64.RawStdEncoding.EncodeToString
	m := hmac.New(sha256.New, []byte("app-secret"))
	m.Write([]byte(pw))
	sc, err := scrypt.Key([]byte(pw), salt, 16384, 8, 1, 32)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := pbkdf2.Key(sha256.New, pw, salt, 10000, 32)
	if err != nil {
		t.Fatal(err)
	}
	bc, _ := bcrypt.GenerateFromPassword(append(append([]byte{}, salt...), pw...), 10)
	return map[string]string{
		"md4":    fmt.Sprintf(`{"algorithm":"md4","hash":{"value":%q,"encoding":"hex"}}`, hex.EncodeToString(sum(md4.New, []byte(pw)))),
		"md5":    fmt.Sprintf(`{"algorithm":"md5","hash":{"value":%q,"encoding":"hex"},"salt":{"value":%q,"position":"suffix"}}`, hex.EncodeToString(sum(md5.New, []byte(pw), salt)), salt),
		"sha1":   fmt.Sprintf(`{"algorithm":"sha1","hash":{"value":%q,"encoding":"base64"},"salt":{"value":%q,"position":"prefix"}}`, base64.StdEncoding.EncodeToString(sum(sha1.New, salt, []byte(pw))), salt),
		"sha256": fmt.Sprintf(`{"algorithm":"sha256","hash":{"value":%q,"encoding":"hex"}}`, hex.EncodeToString(sum(sha256.New, []byte(pw)))),
		"sha512": fmt.Sprintf(`{"algorithm":"sha512","hash":{"value":%q,"encoding":"base64"}}`, base64.StdEncoding.EncodeToString(sum(sha512.New, []byte(pw)))),
		"hmac":   fmt.Sprintf(`{"algorithm":"hmac","hash":{"value":%q,"encoding":"hex","digest":"sha256","key":{"value":"app-secret"}}}`, hex.EncodeToString(m.Sum(nil))),
		"ldap":   fmt.Sprintf(`{"algorithm":"ldap","hash":{"value":%q}}`, "{SSHA256}"+base64.StdEncoding.EncodeToString(append(sum(sha256.New, []byte(pw), salt), salt...))),
		"pbkdf2": fmt.Sprintf(`{"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-sha256$i=10000,l=32$%s$%s"}}`, b64(salt), b64(pb)),
		"scrypt": fmt.Sprintf(`{"algorithm":"scrypt","hash":{"value":%q,"encoding":"hex"},"salt":{"value":%q},"keylen":32}`, hex.EncodeToString(sc), salt),
		"bcrypt": fmt.Sprintf(`{"algorithm":"bcrypt","hash":{"value":%q},"salt":{"value":%q}}`, bc, salt),
		"argon2id": fmt.Sprintf(`{"algorithm":"argon2","hash":{"value":"$argon2id$v=19$m=65536,t=3,p=4$%s$%s"}}`,
			b64(salt), b64(argon2.IDKey([]byte(pw), salt, 3, 65536, 4, 32))),
		"argon2i": fmt.Sprintf(`{"algorithm":"argon2","hash":{"value":"$argon2i$v=19$m=4096,t=3,p=1$%s$%s"}}`,
			b64(salt), b64(argon2.Key([]byte(pw), salt, 3, 4096, 1, 32))),
		// x/crypto has no argon2d: this one was made by the reference C
		// library (libargon2, argon2d_hash_encoded) for "Corr3ct-Horse".
		"argon2d": `{"algorithm":"argon2","hash":{"value":"$argon2d$v=19$m=1024,t=2,p=2$c2FsdHNhbHRzYWx0c2FsdA$xLrp1iNNXscuburLsf9elVsJ3PcR6MUEn+2xSpyBgUY"}}`,
	}
}

// TestImportedHashesLogInAndUpgrade logs in, on both backends, as users
// whose identity holds an imported hash of each algorithm: a wrong password
// fails and changes nothing, the first right password signs in and stores
// argon2id, and the second login works with the new hash.
func TestImportedHashesLogInAndUpgrade(t *testing.T) {
	if goodPW != "Corr3ct-Horse" {
		t.Fatal("the argon2d vector is for Corr3ct-Horse")
	}
	hashes := importedHashes(t, goodPW)
	forEach(t, func(t *testing.T, e *env) {
		e.conn("db", map[string]any{"brute_force_protection": false})
		ctx := ipCtx("192.0.2.44")
		for alg, custom := range hashes {
			email := "imp-" + alg + "@example.com"
			u := e.user("db", email, "placeholder-Pw1")
			stored, err := passwords.FromAuth0Custom(json.RawMessage(custom))
			if err != nil {
				t.Fatalf("%s: %v", alg, err)
			}
			idn := u.QueryIdentities().OnlyX(sys)
			idn.Update().SetPasswordHash(stored).ExecX(sys)

			if _, err := e.login(ctx, LoginInput{Connection: "db", Identifier: email, Password: goodPW + "?"}); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("%s: wrong password: %v", alg, err)
			}
			if got := *u.QueryIdentities().OnlyX(sys).PasswordHash; got != stored {
				t.Fatalf("%s: a failed login changed the hash", alg)
			}
			res, err := e.login(ctx, LoginInput{Connection: "db", Identifier: email, Password: goodPW})
			if err != nil || res.User.ID != u.ID {
				t.Fatalf("%s: first login: %v", alg, err)
			}
			h := *u.QueryIdentities().OnlyX(sys).PasswordHash
			if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || passwords.NeedsRehash(h) || passwords.Verify(h, goodPW) != nil {
				t.Fatalf("%s: hash after the first login: %.40s…", alg, h)
			}
			if _, err := e.login(ctx, LoginInput{Connection: "db", Identifier: email, Password: goodPW}); err != nil {
				t.Fatalf("%s: second login: %v", alg, err)
			}
			if *u.QueryIdentities().OnlyX(sys).PasswordHash != h {
				t.Fatalf("%s: the second login re-hashed again", alg)
			}
			if got := e.reload(u).LoginsCount; got != 2 {
				t.Fatalf("%s: logins_count %d", alg, got)
			}
		}

		// An unknown user still costs exactly one dummy verification, and
		// a wrong password against an imported hash none (the hash's own
		// verification does the work).
		dummy := countDummy(t)
		if _, err := e.login(ctx, LoginInput{Connection: "db", Identifier: "nobody@example.com", Password: goodPW}); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatal(err)
		}
		if got := dummy.Load(); got != 1 {
			t.Fatalf("unknown user: %d dummy verifications, want 1", got)
		}
		u := e.user("db", "imp-late@example.com", "placeholder-Pw1")
		stored, _ := passwords.FromAuth0Custom(json.RawMessage(hashes["md5"]))
		u.QueryIdentities().OnlyX(sys).Update().SetPasswordHash(stored).ExecX(sys)
		if _, err := e.login(ctx, LoginInput{Connection: "db", Identifier: "imp-late@example.com", Password: "wrong"}); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatal(err)
		}
		if got := dummy.Load(); got != 1 {
			t.Fatalf("after a wrong password of an imported user: %d dummy verifications, want 1", got)
		}
	})
}

// TestImportedHashNotUpgradedWhenDisabled: with upgrade_password_hashes
// false the imported hash stays (and keeps working).
func TestImportedHashNotUpgradedWhenDisabled(t *testing.T) {
	e := newEnv(t, "sqlite:"+t.TempDir()+"/t.db")
	e.conn("db", map[string]any{"upgrade_password_hashes": false})
	u := e.user("db", "keep@example.com", "placeholder-Pw1")
	stored, err := passwords.FromAuth0Custom(json.RawMessage(importedHashes(t, goodPW)["sha256"]))
	if err != nil {
		t.Fatal(err)
	}
	u.QueryIdentities().OnlyX(sys).Update().SetPasswordHash(stored).ExecX(sys)
	for range 2 {
		if _, err := e.login(ipCtx("192.0.2.45"), LoginInput{Connection: "db", Identifier: "keep@example.com", Password: goodPW}); err != nil {
			t.Fatal(err)
		}
	}
	if got := *u.QueryIdentities().OnlyX(sys).PasswordHash; got != stored {
		t.Fatalf("hash changed to %.30s…", got)
	}
}

// BenchmarkImportedFirstLogin measures a whole Login (SQLite) of a user
// whose identity holds an imported hash, including the upgrade to argon2id
// (the hash is put back before each iteration, outside the timer), against
// a login that needs no upgrade.
func BenchmarkImportedFirstLogin(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+b.TempDir()+"/b.db")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	svc := &Service{DB: db.Ent, Logger: slog.New(slog.DiscardHandler), Issuer: "http://127.0.0.1:9999/", Now: time.Now}
	if _, err := db.Ent.Connection.Create().SetName("db").SetStrategy(connection.StrategyDatabase).
		SetOptions(map[string]any{"brute_force_protection": false}).Save(sys); err != nil {
		b.Fatal(err)
	}
	hashes := importedHashes(b, goodPW)
	hashes["argon2id (current, no upgrade)"] = ""
	// A bcrypt password_hash (Auth0's own export) is stored as it came.
	bc, err := bcrypt.GenerateFromPassword([]byte(goodPW), 10)
	if err != nil {
		b.Fatal(err)
	}
	hashes["bcrypt cost 10 (password_hash)"] = string(bc)
	pk, err := pbkdf2.Key(sha512.New, goodPW, []byte("0123456789abcdef"), 100000, 64)
	if err != nil {
		b.Fatal(err)
	}
	hashes["pbkdf2-sha512 i=100000 (Auth0's default)"] = fmt.Sprintf(`{"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-sha512$i=100000,l=64$%s$%s"}}`,
		base64.RawStdEncoding.EncodeToString([]byte("0123456789abcdef")), base64.RawStdEncoding.EncodeToString(pk))
	for _, alg := range slices.Sorted(maps.Keys(hashes)) {
		custom := hashes[alg]
		email := "bench-" + strings.NewReplacer(" ", "", "(", "", ")", "", ",", "").Replace(alg) + "@example.com"
		pw := goodPW
		u, err := identity.Create(sys, db.Ent, nil, identity.CreateInput{Connection: "db", Email: &email, Password: &pw})
		if err != nil {
			b.Fatal(err)
		}
		idn := u.QueryIdentities().OnlyX(sys)
		stored := *idn.PasswordHash
		if strings.HasPrefix(custom, "$2") {
			stored = custom
		} else if custom != "" {
			if stored, err = passwords.FromAuth0Custom(json.RawMessage(custom)); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(alg, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				setHash(b, db.Ent, idn, stored)
				b.StartTimer()
				if _, err := svc.Login(ipCtx("192.0.2.46"), LoginInput{Connection: "db", Identifier: email, Password: goodPW}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func setHash(b *testing.B, db *ent.Client, idn *ent.Identity, h string) {
	if err := db.Identity.UpdateOneID(idn.ID).SetPasswordHash(h).Exec(sys); err != nil {
		b.Fatal(err)
	}
}

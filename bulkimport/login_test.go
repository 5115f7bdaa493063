package bulkimport_test

import (
	"time"

	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/authgraph/authgraph/authn"
	"github.com/authgraph/authgraph/authn/loginstore"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/authgraph/authgraph/bulkimport"
	"github.com/authgraph/authgraph/dbauth"
	"github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/joberror"
	"github.com/authgraph/authgraph/server"
)

// TestImportedUsersLogIn imports users with a bcrypt password_hash and a
// salted sha256 custom_password_hash: they log in with their old
// passwords, and the first login upgrades the hash to argon2id. The
// refused row's stored copy has its hash masked.
func TestImportedUsersLogIn(t *testing.T) {
	forEachStore(t, func(t *testing.T, d *server.Deps) {
		db := d.DB.Ent
		const pw = "Old-Password-42"
		bc, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte("salt" + pw))
		rows := fmt.Sprintf(`[
{"email":"bc@example.com","password_hash":%q},
{"email":"sha@example.com","custom_password_hash":{"algorithm":"sha256","hash":{"value":%q,"encoding":"hex"},"salt":{"value":"salt","position":"prefix"}}},
{"email":"bad@example.com","custom_password_hash":{"algorithm":"sha256","hash":{"value":"secret-value","encoding":"hex"}}},
{"email":"mfa@example.com","mfa_factors":[{"totp":{"secret":"JBSWY3DPEHPK3PXP"}},{"phone":{"value":"+14155550123"}}]},
{"email":"mfa-bad@example.com","mfa_factors":[{"totp":{"secret":"not base32!"}}]}
]`, bc, hex.EncodeToString(sum[:]))
		j, err := bulkimport.NewService(db).CreateImport(sys, bulkimport.ImportInput{Connection: conn, File: strings.NewReader(rows)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := (&bulkimport.Runner{DB: db}).RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		done, err := bulkimport.NewService(db).Job(sys, string(j.ID))
		if err != nil {
			t.Fatal(err)
		}
		if s := done.Summary(); s.Inserted != 3 || s.Failed != 2 || !strings.HasPrefix(done.Param("mfa_factors"), "kept for MFA: 1 imported rows") {
			t.Fatalf("summary %+v, params %v", s, done.Params)
		}
		if _, ok := done.Job.Summary["mfa_factor_rows"]; ok {
			t.Fatalf("summary keeps the internal counter: %v", done.Job.Summary)
		}
		e, err := db.JobError.Query().Where(joberror.JobRef(j.ID)).Order(joberror.ByRow()).First(sys)
		if err != nil || e.Row != 2 || !strings.HasPrefix(e.Errors[0]["path"], "custom_password_hash") {
			t.Fatalf("error %+v %v", e, err)
		}
		raw, _ := jsonMarshal(e.RowJSON)
		if bytes.Contains(raw, []byte("secret-value")) || !bytes.Contains(raw, []byte("[REDACTED]")) {
			t.Fatalf("stored row not masked: %s", raw)
		}
		for _, email := range []string{"bc@example.com", "sha@example.com"} {
			if _, err := d.Auth.Login(context.Background(), dbauth.LoginInput{Connection: conn, Identifier: email, Password: "wrong"}); err == nil {
				t.Fatalf("%s: a wrong password logged in", email)
			}
			res, err := d.Auth.Login(context.Background(), dbauth.LoginInput{Connection: conn, Identifier: email, Password: pw})
			if err != nil {
				t.Fatalf("%s: %v", email, err)
			}
			// The upgraded hash is written with the login's record, once
			// the login is decided (authn.Finalize): here, the record alone.
			p := res.Pending
			if _, err := loginstore.New(db).Record(context.Background(), &authn.Record{
				UserID: res.User.ID, Now: time.Now(), UpgradeIdentity: p.UpgradeIdentity, UpgradeHash: p.UpgradeHash,
			}); err != nil {
				t.Fatalf("%s: recording the login: %v", email, err)
			}
			idn, err := db.Identity.Query().Where(identity.EmailLower(email)).Only(sys)
			if err != nil || !strings.HasPrefix(*idn.PasswordHash, "$argon2id$") {
				t.Fatalf("%s: hash not upgraded: %v", email, err)
			}
		}
	})
}

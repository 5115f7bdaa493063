package mfa_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/authgraph/authgraph/mail"
	"github.com/authgraph/authgraph/mfa"
	"github.com/authgraph/authgraph/secretbox"
	"github.com/authgraph/authgraph/store"
)

// BenchmarkVerifyTOTP is one accepted TOTP code against a database: the
// settings (cached), the user, the lockout reservation, the authenticators,
// the seed opened and three candidate codes compared, the step recorded,
// the attempt count reset and the log event written. The service's clock
// moves one 30 s step per iteration, so no code is a replay. It reports
// the statements sent per verification.
func BenchmarkVerifyTOTP(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			ctx := context.Background()
			db, err := store.Open(ctx, be.dsn(b))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			box, _ := secretbox.New(secretbox.NewKey())
			now := time.Unix(1_800_000_015, 0)
			svc, err := mfa.New(mfa.Config{DB: db.Ent, Box: box, Mail: &mail.LogSender{Logger: slog.New(slog.DiscardHandler)},
				Issuer: "https://id.example.test/", Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := svc.UpdateSettings(ctx, mfa.Settings{Policy: mfa.PolicyOptIn, Factors: []mfa.Factor{mfa.FactorTOTP}}); err != nil {
				b.Fatal(err)
			}
			u, err := db.Ent.User.Create().SetUserID("auth0|bench").SetEmail("bench@example.test").Save(sys)
			if err != nil {
				b.Fatal(err)
			}
			en, err := svc.StartTOTP(ctx, u.ID, "bench@example.test")
			if err != nil {
				b.Fatal(err)
			}
			code, _ := totp.GenerateCode(en.Secret, now)
			if _, err := svc.ConfirmTOTP(ctx, u.ID, en.AuthenticatorID, code, mfa.LoginContext{}); err != nil {
				b.Fatal(err)
			}
			before := db.Stats().Statements
			n := 0
			b.ResetTimer()
			for b.Loop() {
				n++
				now = now.Add(30 * time.Second)
				code, _ := totp.GenerateCode(en.Secret, now)
				if err := svc.VerifyTOTP(ctx, u.ID, code, mfa.LoginContext{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(db.Stats().Statements-before)/float64(max(n, 1)), "stmts/op")
		})
	}
}

package bulkimport

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"entgo.io/ent/dialect"

	"github.com/authgraph/authgraph/admins"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/dbauth/lockout"
	"github.com/authgraph/authgraph/dbauth/policy"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/admingrant"
	"github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/job"
	"github.com/authgraph/authgraph/ent/jobchunk"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/user"
	idn "github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/internal/jobstore"
	"github.com/authgraph/authgraph/store"
)

// Runner claims pending import jobs (and jobs whose runner stopped
// renewing its lease) and runs them. Several runners, on one node or many,
// never run one job at once: a claim and every batch's commit are
// conditional updates of the job's lease.
type Runner struct {
	DB *ent.Client
	// Owner names this runner in leases (a host name and process id);
	// empty takes a random one.
	Owner string
	// BatchSize is the rows committed per transaction (default 500; 5,000
	// when new users go in with COPY, on Postgres).
	BatchSize int
	// Lease is how long a claim lasts without a batch renewing it
	// (default 1 minute): after it, another runner resumes the job.
	Lease time.Duration
	// Poll is the pause between looks for work (default 2 s).
	Poll time.Duration
	// Only, when set, restricts the runner to that job (the CLI).
	Only pulid.ID
	// Dialect is the database's (entgo.io/ent/dialect): on Postgres the
	// runner refreshes the planner's statistics of users and identities as
	// they grow, or the batch lookups turn into sequential scans.
	Dialect string
	// NoCopy keeps Postgres on ent's INSERTs for new users instead of COPY
	// (copy.go): for comparisons and benchmarks.
	NoCopy bool
	// Wake, when non-nil, cuts a Poll pause short (a job was created).
	Wake   <-chan struct{}
	Logger *slog.Logger
}

func (r *Runner) defaults() {
	if r.Owner == "" {
		r.Owner = "runner-" + string(pulid.MustNew("run_"))[4:]
	}
	if r.BatchSize <= 0 {
		r.BatchSize = 500
		if r.copies() {
			// COPY's cost per row is small enough that the batch's
			// fixed costs (its checks, commit, the job's row) dominate
			// at 500.
			r.BatchSize = 5000
		}
	}
	if r.Lease <= 0 {
		r.Lease = time.Minute
	}
	if r.Poll <= 0 {
		r.Poll = 2 * time.Second
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
}

// Run works until ctx ends. A job it was running when ctx ended stays
// processing; its lease is released so another runner resumes it at once.
func (r *Runner) Run(ctx context.Context) error {
	r.defaults()
	for {
		worked, err := r.RunOnce(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			r.Logger.Error("import job runner", "error", err)
		}
		if worked {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.Wake:
		case <-time.After(r.Poll):
		}
	}
}

// RunOnce claims one job and runs it to its end (or ctx's); worked reports
// whether there was one.
func (r *Runner) RunOnce(ctx context.Context) (worked bool, err error) {
	r.defaults()
	sys := authz.SystemContext(ctx)
	j, err := r.claim(sys)
	if err != nil || j == nil {
		return false, err
	}
	err = r.run(sys, j)
	if ctx.Err() != nil {
		// Stopped, not failed: hand the job over at once.
		release := authz.SystemContext(context.WithoutCancel(ctx))
		_, _ = r.DB.Job.Update().Where(job.ID(j.ID), job.LeaseOwner(r.Owner)).
			ClearLeaseUntil().SetLeaseOwner("").Save(release)
		return true, ctx.Err()
	}
	if errors.Is(err, jobstore.ErrLeaseLost) {
		return true, nil
	}
	if err != nil {
		r.Logger.Error("import job failed", "job", j.ID, "error", err)
		n, uerr := r.DB.Job.Update().Where(job.ID(j.ID), job.LeaseOwner(r.Owner)).
			SetStatus(job.StatusFailed).SetError(truncate(err.Error(), 2048)).SetFinishedAt(time.Now()).
			SetLeaseOwner("").ClearLeaseUntil().Save(sys)
		if uerr != nil || n == 0 {
			return true, uerr
		}
		// A failed job is never run again, and its upload holds password
		// hashes and TOTP secrets: it goes as on completion.
		_, uerr = r.DB.JobChunk.Delete().Where(jobchunk.JobRef(j.ID), jobchunk.KindEQ(jobchunk.KindInput)).Exec(sys)
		return true, uerr
	}
	return true, nil
}

// claim takes the oldest runnable import job: pending, or processing with
// its lease run out or released.
func (r *Runner) claim(ctx context.Context) (*ent.Job, error) {
	now := time.Now()
	runnable := job.And(job.TypeEQ(job.TypeUsersImport), job.InputComplete(true), job.Or(
		job.StatusEQ(job.StatusPending),
		job.And(job.StatusEQ(job.StatusProcessing), job.Or(job.LeaseUntilIsNil(), job.LeaseUntilLT(now)))))
	q := r.DB.Job.Query().Where(runnable).Order(ent.Asc(job.FieldCreatedAt)).Limit(5)
	if r.Only != "" {
		q = q.Where(job.ID(r.Only))
	}
	ids, err := q.IDs(ctx)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		n, err := r.DB.Job.Update().Where(job.ID(id), runnable).
			SetStatus(job.StatusProcessing).SetLeaseOwner(r.Owner).SetLeaseUntil(now.Add(r.Lease)).Save(ctx)
		if err != nil {
			return nil, err
		}
		if n == 1 {
			j, err := r.DB.Job.Get(ctx, id)
			if err != nil {
				return nil, err
			}
			if j.StartedAt == nil {
				if j, err = j.Update().SetStartedAt(now).Save(ctx); err != nil {
					return nil, err
				}
			}
			return j, nil
		}
	}
	return nil, nil
}

// run processes j from its first uncommitted row.
func (r *Runner) run(ctx context.Context, j *ent.Job) error {
	if j.ConnectionRef == nil {
		return errors.New("the connection was deleted")
	}
	conn, err := r.DB.Connection.Get(ctx, *j.ConnectionRef)
	if ent.IsNotFound(err) {
		return errors.New("the connection was deleted")
	}
	if err != nil {
		return err
	}
	upsert, _ := j.Params["upsert"].(bool)
	creator := creatorContext(ctx, j)
	rr, err := newRowReader(&chunkReader{ctx: ctx, db: r.DB, job: j.ID})
	if err != nil {
		return err
	}
	// seen holds the emails of the rows before the current one (a digest
	// each), for DUPLICATED_USER; the rows already committed are read
	// again to rebuild it after a restart.
	seen := map[[16]byte]struct{}{}
	for i := 0; i < j.RowsDone; i++ {
		raw, err := rr.next()
		if err != nil {
			return fmt.Errorf("resuming at row %d: %w", j.RowsDone, err)
		}
		if e := rowEmail(raw); e != "" {
			seen[digest(e)] = struct{}{}
		}
	}
	done, summary := j.RowsDone, j.Summary
	if summary == nil {
		summary = map[string]int{}
	}
	summary["total"] = j.TotalRows
	batches := 0
	readBatch := func(start int) ([]parsed, error) {
		var batch []parsed
		for len(batch) < r.BatchSize {
			raw, err := rr.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			batch = append(batch, validate(conn, start+len(batch), raw))
		}
		return batch, nil
	}
	nextBatch := func() ([]parsed, error) { return readBatch(done) }
	if r.copies() {
		// Reading and validating the next batch overlaps the writing of
		// this one (the database's work, on another core).
		pctx, stop := context.WithCancel(ctx)
		defer stop()
		nextBatch = pipeline(pctx, done, readBatch)
	}
	for {
		batch, err := nextBatch()
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// Early on the tables double quickly: refresh after batches 1, 2,
		// 4… 32, then every analyzeEvery.
		if batches%analyzeEvery == 0 || batches&(batches-1) == 0 {
			r.analyze(ctx)
		}
		batches++
		var counts map[string]int
		for attempt := 0; ; attempt++ {
			counts, err = r.commit(ctx, creator, j.ID, conn, upsert, batch, seen, summary)
			if err == nil || !ent.IsConstraintError(err) || attempt == 3 {
				break
			}
			// A concurrent write took an email, username or id between
			// the checks and the insert: check the batch again.
		}
		if err != nil {
			return err
		}
		for _, p := range batch {
			if p.email != "" {
				seen[digest(p.email)] = struct{}{}
			}
		}
		summary = counts
		done += len(batch)
	}
	params := j.Params
	if params == nil {
		params = map[string]any{}
	}
	if n := summary[mfaRows]; n > 0 {
		// No MFA enrolment store exists yet: the factors were validated
		// and are recorded here as kept for MFA, not stored (TOTP secrets
		// are not written anywhere in clear).
		params["mfa_factors"] = fmt.Sprintf("kept for MFA: %d imported rows carried mfa_factors; validated, not stored "+
			"(no MFA enrolment store yet): import the file again with upsert once enrolments are served", n)
	}
	delete(summary, mfaRows)
	n, err := r.DB.Job.Update().Where(job.ID(j.ID), job.LeaseOwner(r.Owner)).
		SetParams(params).SetSummary(summary).
		SetStatus(job.StatusCompleted).SetFinishedAt(time.Now()).SetLeaseOwner("").ClearLeaseUntil().Save(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return jobstore.ErrLeaseLost
	}
	// The upload holds password hashes: it goes once the job is done, even
	// if the runner is stopping right now (a cancelled ctx would leave it
	// stored, with nothing left to delete it but the retention purge).
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	_, err = r.DB.JobChunk.Delete().Where(jobchunk.JobRef(j.ID), jobchunk.KindEQ(jobchunk.KindInput)).Exec(dctx)
	return err
}

// pipeline runs read in a goroutine, one batch ahead of the caller: the
// returned func yields the batches in order (an empty one at the end).
func pipeline(ctx context.Context, start int, read func(start int) ([]parsed, error)) func() ([]parsed, error) {
	type result struct {
		batch []parsed
		err   error
	}
	ch := make(chan result, 1)
	go func() {
		defer close(ch)
		for {
			b, err := read(start)
			select {
			case ch <- result{b, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || len(b) == 0 {
				return
			}
			start += len(b)
		}
	}()
	return func() ([]parsed, error) {
		select {
		case r, ok := <-ch:
			if !ok {
				return nil, nil
			}
			return r.batch, r.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// mfaRows counts, while a job runs, the rows imported with mfa_factors
// (kept in the summary column so it survives a resume; removed at the end).
const mfaRows = "mfa_factor_rows"

// analyzeEvery is how many batches pass between two refreshes of the
// planner's statistics (Postgres).
const analyzeEvery = 40

// analyze refreshes Postgres's statistics of the tables an import grows:
// without it (autovacuum lags behind a bulk load, or is off) the planner
// keeps the estimate of an empty table and scans every row for each
// batch's lookups, which made a 100,000-row import take minutes instead
// of seconds. It samples a bounded number of rows, so it stays cheap.
func (r *Runner) analyze(ctx context.Context) {
	if r.Dialect != dialect.Postgres {
		return
	}
	if _, err := r.DB.ExecContext(ctx, "ANALYZE users, identities"); err != nil && ctx.Err() == nil {
		r.Logger.Warn("import job runner: ANALYZE failed", "error", err)
	}
}

// commit writes one batch and the job's progress in one transaction. On
// Postgres new users go in with COPY; a COPY that meets a unique violation
// (a user committed since the batch's checks) rolls the batch back, and it
// is written again with INSERTs, whose checks report the conflicting row.
func (r *Runner) commit(ctx, creator context.Context, id pulid.ID, conn *ent.Connection, upsert bool,
	batch []parsed, seen map[[16]byte]struct{}, summary map[string]int) (map[string]int, error) {
	useCopy := r.copies()
	txCtx, captured := ctx, (*store.CapturedTx)(nil)
	if useCopy {
		txCtx, captured = store.CaptureTx(ctx)
	}
	tx, err := r.DB.Tx(txCtx)
	if err != nil {
		return nil, err
	}
	var sqlTx *sql.Tx
	if captured != nil {
		sqlTx = captured.Tx()
	}
	if sqlTx != nil {
		if _, err := sqlTx.ExecContext(ctx, asyncCommit); err != nil {
			_ = tx.Rollback()
			return nil, err
		}
	}
	counts, err := r.write(ctx, creator, tx.Client(), sqlTx, id, conn, upsert, batch, seen, summary)
	if err != nil {
		_ = tx.Rollback()
		if sqlTx != nil && uniqueViolation(err) {
			r.Logger.Info("import job: a COPY met a concurrent write; writing the batch with INSERTs", "job", id)
			return r.commitInserts(ctx, creator, id, conn, upsert, batch, seen, summary)
		}
		return nil, err
	}
	return counts, tx.Commit()
}

// copies reports whether new users go in with COPY.
func (r *Runner) copies() bool { return !r.NoCopy && store.Of(r.DB).Postgres() }

// asyncCommit lets Postgres acknowledge a batch's commit before its WAL
// is flushed to disk. A crash can then lose the last batches committed,
// but only whole: the job's progress row is in the same transactions, so
// the job resumes before them and writes them again — no row is lost or
// written twice, and one disk flush per batch is saved.
const asyncCommit = "SET LOCAL synchronous_commit TO off"

// commitInserts is commit without COPY.
func (r *Runner) commitInserts(ctx, creator context.Context, id pulid.ID, conn *ent.Connection, upsert bool,
	batch []parsed, seen map[[16]byte]struct{}, summary map[string]int) (map[string]int, error) {
	tx, err := r.DB.Tx(ctx)
	if err != nil {
		return nil, err
	}
	counts, err := r.write(ctx, creator, tx.Client(), nil, id, conn, upsert, batch, seen, summary)
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return counts, tx.Commit()
}

// write writes a batch through db, a transaction's client; new users go
// through COPY on copyTx (the same transaction) when it is not nil.
func (r *Runner) write(ctx, creator context.Context, db *ent.Client, copyTx *sql.Tx, id pulid.ID, conn *ent.Connection,
	upsert bool, batch []parsed, seen map[[16]byte]struct{}, summary map[string]int) (map[string]int, error) {
	// Renewing the lease first locks the job's row: a runner that lost it
	// commits nothing.
	if err := jobstore.Renew(ctx, db, id, r.Owner, r.Lease); err != nil {
		return nil, err
	}
	var emails, usernames, userIDs []string
	for _, p := range batch {
		if p.row != nil {
			emails = append(emails, p.row.nu.Email)
			userIDs = append(userIDs, p.row.nu.UserID)
			if p.row.nu.Username != nil {
				usernames = append(usernames, *p.row.nu.Username)
			}
		}
	}
	byEmail := map[string]*ent.Identity{}
	if len(emails) > 0 {
		ids, err := db.Identity.Query().Where(identity.ConnectionID(conn.ID), identity.EmailLowerIn(emails...)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, i := range ids {
			byEmail[*i.EmailLower] = i
		}
	}
	// The job may run long after it was created: an administrator granted
	// since then must not be overwritten by a caller who does not hold
	// their scopes. Control is checked again, per batch, with the scopes
	// the creator held.
	uncontrolled := map[pulid.ID]bool{}
	if upsert && len(byEmail) > 0 && !authz.FromContext(creator).IsSystem() {
		owners := make([]pulid.ID, 0, len(byEmail))
		for _, i := range byEmail {
			owners = append(owners, i.OwnerID)
		}
		refs, err := db.AdminGrant.Query().Where(admingrant.UserRefIn(owners...)).
			Unique(true).Select(admingrant.FieldUserRef).Strings(ctx)
		if err != nil {
			return nil, err
		}
		for _, ref := range refs {
			err := admins.RequireControl(creator, db, pulid.ID(ref))
			var esc *authz.EscalationError
			switch {
			case errors.As(err, &esc):
				uncontrolled[pulid.ID(ref)] = true
			case err != nil:
				return nil, err
			}
		}
	}
	takenUser := map[string]bool{}
	if len(usernames) > 0 {
		names, err := db.Identity.Query().Where(identity.ConnectionID(conn.ID), identity.UsernameIn(usernames...)).
			Select(identity.FieldUsername).Strings(ctx)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			takenUser[n] = true
		}
	}
	takenID := map[string]bool{}
	if len(userIDs) > 0 {
		ids, err := db.User.Query().Where(user.UserIDIn(userIDs...)).Select(user.FieldUserID).Strings(ctx)
		if err != nil {
			return nil, err
		}
		for _, u := range ids {
			takenID[u] = true
		}
		// The identity's (connection, upstream id) is unique too.
		var ups []string
		for _, p := range batch {
			if p.row != nil {
				ups = append(ups, p.row.nu.UpstreamID)
			}
		}
		taken, err := db.Identity.Query().Where(identity.ConnectionID(conn.ID), identity.UpstreamIDIn(ups...)).
			Select(identity.FieldUpstreamID).Strings(ctx)
		if err != nil {
			return nil, err
		}
		for _, u := range taken {
			takenID[idn.DatabaseProvider+"|"+u] = true
		}
	}
	counts := map[string]int{"inserted": summary["inserted"], "updated": summary["updated"],
		"failed": summary["failed"], "total": summary["total"], mfaRows: summary[mfaRows]}
	var (
		news    []newUser
		errs    []*ent.JobErrorCreate
		inBatch = map[[16]byte]bool{}
	)
	fail := func(p parsed, es ...RowError) {
		counts["failed"]++
		errs = append(errs, db.JobError.Create().SetJobRef(id).SetRow(p.index).SetCode(es[0].Code).
			SetMessage(truncate(es[0].Message, 2048)).SetErrors(marshalErrors(es)).SetRowJSON(mask(p.raw)))
	}
	for _, p := range batch {
		dup := false
		if p.email != "" {
			d := digest(p.email)
			_, before := seen[d]
			dup = before || inBatch[d]
			inBatch[d] = true
		}
		if p.row == nil {
			fail(p, p.errors...)
			continue
		}
		nu := p.row.nu
		switch {
		case dup:
			fail(p, RowError{Code: CodeDuplicatedUser, Message: "the email appears more than once in the file", Path: "email"})
		case byEmail[nu.Email] != nil && upsert && uncontrolled[byEmail[nu.Email].OwnerID]:
			fail(p, RowError{Code: CodeForbidden, Path: "email",
				Message: "the user is an administrator whose scopes the job's creator does not hold"})
		case byEmail[nu.Email] != nil && upsert:
			if err := update(ctx, db, conn, byEmail[nu.Email], p.row); err != nil {
				return nil, err
			}
			counts["updated"]++
			if p.row.mfaFactors > 0 {
				counts[mfaRows]++
			}
		case byEmail[nu.Email] != nil:
			fail(p, RowError{Code: CodeConflictEmail, Message: "The user already exists", Path: "email"})
		case takenID[nu.UserID]:
			fail(p, RowError{Code: CodeConflict, Message: "A user with this user_id already exists", Path: "user_id"})
		case nu.Username != nil && takenUser[*nu.Username]:
			fail(p, RowError{Code: CodeConflictUsername, Message: "The username already exists", Path: "username"})
		default:
			takenID[nu.UserID] = true
			if nu.Username != nil {
				takenUser[*nu.Username] = true
			}
			news = append(news, newUser{id: pulid.MustNew("usr_"), nu: nu, hash: p.row.hash})
			counts["inserted"]++
			if p.row.mfaFactors > 0 {
				counts[mfaRows]++
			}
		}
	}
	const stmt = 500
	if err := r.insert(ctx, db, copyTx, conn, news); err != nil {
		return nil, err
	}
	for i := 0; i < len(errs); i += stmt {
		if err := db.JobError.CreateBulk(errs[i:min(i+stmt, len(errs))]...).Exec(ctx); err != nil {
			return nil, err
		}
	}
	if _, err := db.Job.UpdateOneID(id).AddRowsDone(len(batch)).SetSummary(counts).Save(ctx); err != nil {
		return nil, err
	}
	return counts, nil
}

// insert stores a batch's new users: with COPY on copyTx when it is set,
// else with ent's multi-row INSERTs through db.
func (r *Runner) insert(ctx context.Context, db *ent.Client, copyTx *sql.Tx, conn *ent.Connection, news []newUser) error {
	if copyTx != nil {
		return copyUsers(ctx, copyTx, conn, news)
	}
	const stmt = 500
	for i := 0; i < len(news); i += stmt {
		part := news[i:min(i+stmt, len(news))]
		users := make([]*ent.UserCreate, len(part))
		identities := make([]*ent.IdentityCreate, len(part))
		for k, u := range part {
			users[k] = u.nu.UserCreate(db).SetID(u.id)
			identities[k] = u.nu.IdentityCreate(db, u.id, u.hash)
		}
		if err := db.User.CreateBulk(users...).Exec(ctx); err != nil {
			return err
		}
		if err := db.Identity.CreateBulk(identities...).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// creatorContext carries the viewer who created job j, for the checks
// that run with their rights: the system (the CLI, internal work), or the
// management scopes they held when they created it.
func creatorContext(ctx context.Context, j *ent.Job) context.Context {
	if sys, _ := j.Params[paramSystem].(bool); sys {
		return authz.SystemContext(ctx)
	}
	var scopes []string
	switch v := j.Params[paramCreatorScopes].(type) {
	case []string:
		scopes = v
	case []any:
		for _, s := range v {
			if s, ok := s.(string); ok {
				scopes = append(scopes, s)
			}
		}
	}
	return authz.NewContext(ctx, &authz.Viewer{Subject: j.CreatedBy, Scopes: scopes})
}

// update applies an upsert row to the user owning idt: only the
// properties the row gives, metadata replaced whole, as Auth0. A replaced
// password hash is a password change like any other (history rotated,
// last_password_reset stamped, sessions, grants and tokens revoked,
// brute-force blocks lifted), and blocking a user ends what they hold, all
// in the batch's transaction.
func update(ctx context.Context, db *ent.Client, conn *ent.Connection, idt *ent.Identity, r *row) error {
	u := db.User.UpdateOneID(idt.OwnerID)
	if r.emailVerified != nil {
		u.SetEmailVerified(*r.emailVerified)
	}
	if r.blocked != nil {
		u.SetBlocked(*r.blocked)
	}
	for _, f := range []struct {
		key string
		v   *string
		set func(string) *ent.UserUpdateOne
	}{
		{"name", r.name, u.SetName}, {"given_name", r.givenName, u.SetGivenName},
		{"family_name", r.familyName, u.SetFamilyName}, {"nickname", r.nickname, u.SetNickname},
		{"picture", r.picture, u.SetPicture},
	} {
		if f.v != nil {
			f.set(*f.v)
		}
	}
	if r.has["user_metadata"] {
		u.SetUserMetadata(r.nu.UserMetadata())
	}
	if r.has["app_metadata"] {
		u.SetAppMetadata(r.nu.AppMetadata())
	}
	changed := r.hash != nil && (idt.PasswordHash == nil || *idt.PasswordHash != *r.hash)
	if changed {
		u.SetLastPasswordReset(time.Now())
	}
	if err := u.Exec(ctx); err != nil {
		return err
	}
	if changed {
		upd := db.Identity.UpdateOneID(idt.ID).SetPasswordHash(*r.hash)
		current := ""
		if idt.PasswordHash != nil {
			current = *idt.PasswordHash
		}
		if hist := policy.FromConnection(conn.Options).KeptHistory(current, idt.PasswordHistory); hist != nil {
			upd.SetPasswordHistory(hist)
		} else {
			upd.ClearPasswordHistory()
		}
		if err := upd.Exec(ctx); err != nil {
			return err
		}
		if err := idn.RevokeAccess(ctx, db, idt.OwnerID, idn.RevokePasswordChanged); err != nil {
			return err
		}
		var idents []string
		for _, v := range []*string{idt.EmailLower, idt.Username} {
			if v != nil && *v != "" {
				idents = append(idents, *v)
			}
		}
		if err := lockout.Clear(ctx, db, conn.Name, idents...); err != nil {
			return err
		}
	}
	if r.blocked != nil && *r.blocked && !changed {
		return idn.RevokeAccess(ctx, db, idt.OwnerID, idn.RevokeUserBlocked)
	}
	return nil
}

// rowEmail is a row's normalized email, "" when it has none valid.
func rowEmail(raw []byte) string {
	var m struct {
		Email any `json:"email"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return ""
	}
	s, ok := m.Email.(string)
	if !ok {
		return ""
	}
	n, err := idn.NormalizeEmail(strings.ToLower(s))
	if err != nil {
		return ""
	}
	return n
}

func digest(email string) [16]byte {
	s := sha256.Sum256([]byte(email))
	var d [16]byte
	copy(d[:], s[:16])
	return d
}

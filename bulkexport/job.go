package bulkexport

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/job"
	"github.com/authgraph/authgraph/ent/jobchunk"
	"github.com/authgraph/authgraph/ent/predicate"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/internal/jobstore"
	"github.com/authgraph/authgraph/manage"
	"github.com/authgraph/authgraph/store"
)

// DownloadTTL is how long an export's download URL works after it is
// issued. Every read of a completed job issues a new URL and ends the
// previous one, so a leaked URL is good for an hour at most.
const DownloadTTL = time.Hour

// leaseTTL is how long a runner's claim on a job lasts without progress;
// each batch renews it. A job whose runner died is claimable again after.
const leaseTTL = 2 * time.Minute

// MaxRunning is how many export jobs one node runs at once. An export
// reads the whole users table and holds a database connection; more at
// once would starve logins. Jobs beyond it stay pending and are run by a
// later sweep (ResumeJobs) or the next free runner.
const MaxRunning = 2

// MaxActive is how many export jobs may be pending or processing at once
// across all nodes; CreateJob refuses more with ErrTooManyJobs, as Auth0
// limits the export jobs a tenant has in flight.
const MaxActive = 4

// ErrTooManyJobs refuses an export job while MaxActive others are pending
// or processing.
var ErrTooManyJobs = fmt.Errorf("there are already %d export jobs pending or processing; wait for one to complete", MaxActive)

// slots bounds the exports this process runs at once (MaxRunning).
var slots = make(chan struct{}, MaxRunning)

// CreateJob records an export job (pending) for o, after validating it.
// The API never exports password hashes: o.IncludePasswordHashes is
// refused here. The caller needs read:users; the job's creation is
// audited (sapi, operation exportUsers), as the export is a bulk read of
// personal data.
func CreateJob(ctx context.Context, db *ent.Client, createdBy string, o Options) (*ent.Job, error) {
	if o.IncludePasswordHashes {
		return nil, &identity.ValidationError{Field: "fields", Message: "password hashes are exported only by the command line tool"}
	}
	o, err := Prepare(o)
	if err != nil {
		return nil, err
	}
	params := map[string]any{"format": string(o.Format), "fields": o.Fields}
	if o.Limit > 0 {
		params["limit"] = o.Limit
	}
	if o.ConnectionID != "" {
		// Kept in the params too: connection_ref is cleared if the
		// connection is deleted, and the job must then export nobody,
		// not everybody.
		params["connection_id"] = string(o.ConnectionID)
	}
	// Store the params as plain JSON values, as they read back.
	raw, _ := json.Marshal(params)
	var stored map[string]any
	_ = json.Unmarshal(raw, &stored)
	desc := "Export users as " + string(o.Format)
	if o.ConnectionID != "" {
		desc += " of connection " + string(o.ConnectionID)
	}
	names := make([]string, len(o.Fields))
	for i, f := range o.Fields {
		names[i] = f.Name
	}
	desc += " (fields: " + strings.Join(names, ", ") + ")"
	var out *ent.Job
	err = manage.Write(ctx, db, manage.Op{Scope: "read:users", Operation: "exportUsers", Description: desc},
		func(tx *ent.Client) (manage.Audit, error) {
			sys := authz.SystemContext(ctx)
			if err := lockActive(sys, db, tx); err != nil {
				return manage.Audit{}, err
			}
			active, err := tx.Job.Query().Where(job.TypeEQ(job.TypeUsersExport), job.StatusIn(job.StatusPending, job.StatusProcessing)).
				Count(sys)
			if err != nil {
				return manage.Audit{}, err
			}
			if active >= MaxActive {
				return manage.Audit{}, ErrTooManyJobs
			}
			c := tx.Job.Create().SetType(job.TypeUsersExport).SetParams(stored).SetCreatedBy(createdBy)
			if o.ConnectionID != "" {
				c = c.SetConnectionRef(o.ConnectionID)
			}
			out, err = c.Save(sys)
			if err != nil {
				return manage.Audit{}, err
			}
			return manage.Audit{Description: desc + ": job " + string(out.ID)}, nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// activeLock is the Postgres advisory lock key that serializes CreateJob's
// count of active exports with its insert ("exports" in ASCII).
const activeLock = 0x6578706f727473

// lockActive makes CreateJob's count-then-insert atomic: without it two
// concurrent requests both count MaxActive-1 and both insert. On Postgres
// a transaction-scoped advisory lock, released at commit or rollback,
// serializes them across nodes. SQLite needs none: its write transactions
// begin IMMEDIATE, one at a time.
func lockActive(ctx context.Context, db, tx *ent.Client) error {
	if !store.Of(db).Postgres() {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", activeLock)
	return err
}

// JobOptions reads back the options an export job was created with.
func JobOptions(j *ent.Job) Options {
	var p struct {
		Format       string  `json:"format"`
		Fields       []Field `json:"fields"`
		Limit        int     `json:"limit"`
		ConnectionID string  `json:"connection_id"`
	}
	raw, _ := json.Marshal(j.Params)
	_ = json.Unmarshal(raw, &p)
	return Options{Format: Format(p.Format), Fields: p.Fields, Limit: p.Limit, ConnectionID: pulid.ID(p.ConnectionID)}
}

// runnerID names this process in job leases.
var runnerID = func() string {
	h, _ := os.Hostname()
	return fmt.Sprintf("%s/%d", h, os.Getpid())
}()

// RunJob claims export job id and runs it: the file is written to the
// job's output chunks and the job ends completed (or failed, with the
// reason). It claims a pending job, or a processing one whose runner's
// lease ran out (a crashed node): an export restarts from the beginning,
// replacing any partial output. It returns nil without running when
// another runner holds the job, or when this node already runs
// MaxRunning exports (the job stays pending for a later sweep).
func RunJob(ctx context.Context, db *ent.Client, id pulid.ID, log *slog.Logger) error {
	_, err := run(ctx, db, id, log)
	return err
}

// run is RunJob; ran reports whether this call ran the job.
func run(ctx context.Context, db *ent.Client, id pulid.ID, log *slog.Logger) (ran bool, err error) {
	select {
	case slots <- struct{}{}:
		defer func() { <-slots }()
	default:
		return false, nil
	}
	owner, j, err := claim(ctx, db, id)
	if err != nil || j == nil {
		return false, err
	}
	return true, execute(ctx, db, j, owner, log)
}

// claim takes job id for a new run. The owner token is unique to this
// claim, not to the process: two runs in one process (the API's and the
// sweep's) must not pass for each other.
func claim(ctx context.Context, db *ent.Client, id pulid.ID) (owner string, j *ent.Job, err error) {
	sys := authz.SystemContext(ctx)
	owner = runnerID + "/" + string(pulid.MustNew("run_"))[4:]
	now := time.Now()
	n, err := db.Job.Update().Where(job.ID(id), runnable(now)).
		SetStatus(job.StatusProcessing).SetLeaseOwner(owner).SetLeaseUntil(now.Add(leaseTTL)).
		SetStartedAt(now).SetRowsDone(0).Save(sys)
	if err != nil || n == 0 {
		return "", nil, err
	}
	j, err = db.Job.Get(sys, id)
	return owner, j, err
}

// execute runs claimed job j. Every write is conditional on owner's
// lease, so a runner that lost its claim changes nothing.
func execute(ctx context.Context, db *ent.Client, j *ent.Job, owner string, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	sys := authz.SystemContext(ctx)
	rows, err := runJob(sys, db, j, owner)
	if errors.Is(err, jobstore.ErrLeaseLost) {
		log.Warn("users export taken over by another runner", "job", j.ID)
		return nil
	}
	if err != nil {
		log.Error("users export failed", "job", j.ID, "err", err)
		msg := "the export failed"
		if ve := new(identity.ValidationError); errors.As(err, &ve) {
			msg = ve.Message
		}
		// A fresh context: the job's own may be what ended.
		if _, uerr := db.Job.Update().Where(jobstore.Held(j.ID, owner)).SetStatus(job.StatusFailed).SetError(msg).SetFinishedAt(time.Now()).
			SetLeaseOwner("").ClearLeaseUntil().Save(authz.SystemContext(context.WithoutCancel(ctx))); uerr != nil {
			log.Error("recording a failed users export", "job", j.ID, "err", uerr)
		}
		return err
	}
	n, err := db.Job.Update().Where(jobstore.Held(j.ID, owner)).SetStatus(job.StatusCompleted).SetRowsDone(rows).SetTotalRows(rows).
		SetSummary(map[string]int{"total": rows}).SetFinishedAt(time.Now()).SetLeaseOwner("").ClearLeaseUntil().Save(sys)
	if err == nil && n == 0 {
		log.Warn("users export taken over by another runner", "job", j.ID)
	}
	return err
}

// inTx runs f in a transaction that first renews owner's lease.
func inTx(ctx context.Context, db *ent.Client, id pulid.ID, owner string, f func(*ent.Client) error) error {
	tx, err := db.Tx(ctx)
	if err != nil {
		return err
	}
	if err := jobstore.Renew(ctx, tx.Client(), id, owner, leaseTTL); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := f(tx.Client()); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// runJob writes the export. The users are read from the replica when
// there is a fresh one (store/replica.go), the job's own records on the
// primary; should the replica fail midway, the export starts over on the
// primary (its partial output is replaced).
func runJob(ctx context.Context, db *ent.Client, j *ent.Job, owner string) (int, error) {
	return store.Read(ctx, db, func(read *ent.Client) (int, error) { return runJobFrom(ctx, db, read, j, owner) })
}

func runJobFrom(ctx context.Context, db, read *ent.Client, j *ent.Job, owner string) (int, error) {
	o := JobOptions(j)
	total, err := Count(ctx, read, o)
	if err != nil {
		return 0, err
	}
	// A previous run's partial output goes with the new run's total.
	if err := inTx(ctx, db, j.ID, owner, func(tx *ent.Client) error {
		if _, err := tx.JobChunk.Delete().Where(jobchunk.JobRef(j.ID), jobchunk.KindEQ(jobchunk.KindOutput)).Exec(ctx); err != nil {
			return err
		}
		return tx.Job.UpdateOneID(j.ID).SetTotalRows(total).Exec(ctx)
	}); err != nil {
		return 0, err
	}
	var perr error
	o.Progress = func(done int) {
		// Progress and the lease commit with each batch.
		if err := inTx(ctx, db, j.ID, owner, func(tx *ent.Client) error {
			return tx.Job.UpdateOneID(j.ID).SetRowsDone(done).Exec(ctx)
		}); err != nil && perr == nil {
			perr = err
		}
	}
	cw := &jobstore.ChunkWriter{Ctx: ctx, DB: db, Job: j.ID, Kind: jobchunk.KindOutput,
		Fence: func(tx *ent.Client) error { return jobstore.Renew(ctx, tx, j.ID, owner, leaseTTL) }}
	res, err := Export(ctx, read, &abortWriter{w: cw, err: &perr}, o)
	if perr != nil {
		err = perr
	}
	if err == nil {
		err = cw.Flush()
	}
	return res.Rows, err
}

// abortWriter fails writes once progress could not be recorded (the lease
// was lost), so the export stops instead of running to its end.
type abortWriter struct {
	w   *jobstore.ChunkWriter
	err *error
}

func (a *abortWriter) Write(p []byte) (int, error) {
	if *a.err != nil {
		return 0, *a.err
	}
	return a.w.Write(p)
}

// FileName is the name of a completed export's file: job_….json.gz or
// job_….csv.gz.
func FileName(j *ent.Job) string {
	f := JobOptions(j).Format
	if f == "" {
		f = JSON
	}
	return string(j.ID) + "." + string(f) + ".gz"
}

// IssueDownload gives a completed export job a new download token, valid
// DownloadTTL; only its SHA-256 is stored (with its expiry), and it
// replaces the previous one. A job whose file is past Retention gets none
// (NotFoundError).
func IssueDownload(ctx context.Context, db *ent.Client, id pulid.ID) (token string, expires time.Time, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", time.Time{}, err
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	expires = time.Now().Add(DownloadTTL)
	n, err := db.Job.Update().Where(job.ID(id), job.TypeEQ(job.TypeUsersExport), job.StatusEQ(job.StatusCompleted),
		job.FinishedAtGT(time.Now().Add(-Retention))).
		SetLocation(locationRecord(token, expires)).Save(authz.SystemContext(ctx))
	if err != nil {
		return "", time.Time{}, err
	}
	if n == 0 {
		return "", time.Time{}, &identity.NotFoundError{What: "completed export job", ID: string(id)}
	}
	return token, expires, nil
}

// locationRecord is what the job's location column holds: the token's
// SHA-256 (hex) and its expiry (Unix seconds).
func locationRecord(token string, expires time.Time) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:]) + ":" + strconv.FormatInt(expires.Unix(), 10)
}

// ErrDownloadRefused is a download with a missing, wrong or expired token,
// or of a job that is not a completed export: one error for all, so that
// a caller without the token learns nothing about the job.
var ErrDownloadRefused = errors.New("the download link is invalid or has expired")

// OpenDownload checks token for export job id and returns the job.
func OpenDownload(ctx context.Context, db *ent.Client, id pulid.ID, token string) (*ent.Job, error) {
	sys := authz.SystemContext(ctx)
	j, err := db.Job.Query().Where(job.ID(id), job.TypeEQ(job.TypeUsersExport), job.StatusEQ(job.StatusCompleted)).Only(sys)
	if err != nil {
		if ent.IsNotFound(err) {
			return nil, ErrDownloadRefused
		}
		return nil, err
	}
	if j.Location == nil || token == "" || !FileKept(j) {
		return nil, ErrDownloadRefused
	}
	hash, exp, ok := strings.Cut(*j.Location, ":")
	unix, perr := strconv.ParseInt(exp, 10, 64)
	if !ok || perr != nil || time.Now().Unix() >= unix {
		return nil, ErrDownloadRefused
	}
	sum := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(hash)) != 1 {
		return nil, ErrDownloadRefused
	}
	return j, nil
}

// Chunk returns output chunk seq of job id (nil after the last).
func Chunk(ctx context.Context, db *ent.Client, id pulid.ID, seq int) ([]byte, error) {
	c, err := db.JobChunk.Query().Where(jobchunk.JobRef(id), jobchunk.KindEQ(jobchunk.KindOutput), jobchunk.Seq(seq)).
		Only(authz.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return c.Data, nil
}

// runnable selects export jobs no runner holds: pending, or processing
// with the lease run out (their runner stopped or crashed).
func runnable(now time.Time) predicate.Job {
	return job.And(job.TypeEQ(job.TypeUsersExport), job.Or(
		job.StatusEQ(job.StatusPending),
		job.And(job.StatusEQ(job.StatusProcessing), job.Or(job.LeaseUntilIsNil(), job.LeaseUntilLT(now)))))
}

// ResumeJobs runs, one after the other, the export jobs no runner holds:
// those whose process stopped before they completed, and those left
// pending while MaxRunning others ran. Jobs are normally run as soon as
// they are created (the API starts them); this picks up the rest. It
// returns the number of jobs it ran.
func ResumeJobs(ctx context.Context, db *ent.Client, log *slog.Logger) (int, error) {
	ids, err := db.Job.Query().Where(runnable(time.Now())).Order(ent.Asc(job.FieldCreatedAt)).Limit(10).
		IDs(authz.SystemContext(ctx))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if ran, _ := run(ctx, db, id, log); ran {
			n++
		}
	}
	return n, nil
}

// Retention is how long a completed export's file is kept: after it the
// file (personal data, outside the users table) is deleted and the job
// gives no location any more.
const Retention = 24 * time.Hour

// FileKept reports whether a completed job's file is still kept.
func FileKept(j *ent.Job) bool {
	return j.FinishedAt != nil && time.Since(*j.FinishedAt) < Retention
}

// PurgeFiles deletes the files of exports finished more than Retention
// ago (and of failed exports' partial output), returning how many jobs'
// files it deleted. Every node may run it: the deletes are idempotent.
func PurgeFiles(ctx context.Context, db *ent.Client) (int, error) {
	sys := authz.SystemContext(ctx)
	ids, err := db.Job.Query().Where(job.TypeEQ(job.TypeUsersExport), job.StatusIn(job.StatusCompleted, job.StatusFailed),
		job.FinishedAtLT(time.Now().Add(-Retention)), job.HasChunks()).IDs(sys)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	if _, err := db.JobChunk.Delete().Where(jobchunk.JobRefIn(ids...), jobchunk.KindEQ(jobchunk.KindOutput)).Exec(sys); err != nil {
		return 0, err
	}
	_, err = db.Job.Update().Where(job.IDIn(ids...)).ClearLocation().Save(sys)
	return len(ids), err
}

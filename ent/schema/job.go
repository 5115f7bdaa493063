package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/schema/pulid"
)

// Job is a background bulk operation on users, Auth0's job: an import of a
// users file or an export. Jobs outlive the process that runs them: the
// input is stored (JobChunk) and progress (rows_done) commits with each
// batch, so a job interrupted by a crash resumes where it stopped on
// whichever node claims it next.
type Job struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Job) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("job_"), timestamps{}} }

// Fields implements ent.Schema.
func (Job) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("type").Values("users_import", "users_export").Immutable(),
		field.Enum("status").Values("pending", "processing", "completed", "failed").Default("pending"),
		// connection_ref is the connection imported into (or exported
		// from); nil for an export of every connection.
		field.String("connection_ref").GoType(pulid.ID("")).Optional().Nillable().Immutable(),
		// created_by names the viewer that created the job (a user_id or a
		// client id), for the audit trail and the dashboard.
		field.String("created_by").Default("").MaxLen(255).Immutable(),
		// params are the job's options: upsert, external_id,
		// send_completion_email, format, fields…
		field.JSON("params", map[string]any{}).Default(map[string]any{}).SchemaType(jsonb),
		// summary is Auth0's {inserted, updated, failed, total}.
		field.JSON("summary", map[string]int{}).Default(map[string]int{}).SchemaType(jsonb),
		// rows_done counts the input rows (or exported users) processed and
		// committed: the resume point.
		field.Int("rows_done").Default(0).NonNegative(),
		// total_rows is 0 while unknown.
		field.Int("total_rows").Default(0).NonNegative(),
		// input_size is the stored input's length in bytes.
		field.Int64("input_size").Default(0).NonNegative(),
		// input_complete is set once every chunk of the input is stored: a
		// job whose upload broke off never runs.
		field.Bool("input_complete").Default(false),
		// location is the hash of an export's download token.
		field.String("location").Optional().Nillable().Sensitive(),
		// error is why a failed job failed.
		field.String("error").Default("").MaxLen(2048),
		// lease_owner and lease_until make a claim: a node runs a job only
		// after a conditional update takes the lease, renewed with each
		// batch; a crashed node's lease runs out and another resumes.
		field.String("lease_owner").Default("").MaxLen(128),
		field.Time("lease_until").Optional().Nillable(),
		field.Time("started_at").Optional().Nillable(),
		field.Time("finished_at").Optional().Nillable(),
	}
}

// Edges implements ent.Schema.
func (Job) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("connection", Connection.Type).Field("connection_ref").Unique().Immutable().
			Annotations(entsql.OnDelete(entsql.SetNull)),
		edge.From("errors", JobError.Type).Ref("job"),
		edge.From("chunks", JobChunk.Type).Ref("job"),
	}
}

// Indexes implements ent.Schema: the runner looks for work by status.
func (Job) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("status", "created_at"),
	}
}

// Annotations implements ent.Schema: GraphQL serves jobs through its own
// types (graph/schema), not ent's.
func (Job) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy implements ent.Schema: only the job use cases read and write jobs,
// after checking the caller's scopes themselves.
func (Job) Policy() ent.Policy { return authz.SystemOnly{} }

// JobError is a row of an import refused, with Auth0's error codes and the
// row as given with its password hashes masked.
type JobError struct{ ent.Schema }

// Mixin implements ent.Schema.
func (JobError) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("jer_"), timestamps{}}
}

// Fields implements ent.Schema.
func (JobError) Fields() []ent.Field {
	return []ent.Field{
		field.String("job_ref").GoType(pulid.ID("")).Immutable(),
		// row is the 0-based index of the row in the file.
		field.Int("row").NonNegative().Immutable(),
		// code and message are the first error's (Auth0's codes:
		// ANY_OF_MISSING, CONFLICT_EMAIL, DUPLICATED_USER…).
		field.String("code").MaxLen(64).Immutable(),
		field.String("message").MaxLen(2048).Immutable(),
		// errors are every error of the row: [{code, message, path}].
		field.JSON("errors", []map[string]string{}).Optional().Immutable(),
		// row_json is the row, hashes replaced by "[REDACTED]".
		field.JSON("row_json", map[string]any{}).Optional().Immutable(),
	}
}

// Edges implements ent.Schema.
func (JobError) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("job", Job.Type).Field("job_ref").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes implements ent.Schema.
func (JobError) Indexes() []ent.Index {
	return []ent.Index{index.Fields("job_ref", "row")}
}

// Annotations implements ent.Schema.
func (JobError) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy implements ent.Schema (see Job).
func (JobError) Policy() ent.Policy { return authz.SystemOnly{} }

// JobChunk is a piece of a job's data: an import's uploaded file (or an
// export's output), stored in the database so that every node can resume
// the job and no data directory has to be shared. seq orders the chunks.
type JobChunk struct{ ent.Schema }

// Mixin implements ent.Schema.
func (JobChunk) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("jch_")}
}

// Fields implements ent.Schema.
func (JobChunk) Fields() []ent.Field {
	return []ent.Field{
		field.String("job_ref").GoType(pulid.ID("")).Immutable(),
		// kind separates an import's input from an export's output.
		field.Enum("kind").Values("input", "output").Default("input").Immutable(),
		field.Int("seq").NonNegative().Immutable(),
		field.Bytes("data").Immutable(),
		field.Time("created_at").Default(time.Now).Immutable(),
	}
}

// Edges implements ent.Schema.
func (JobChunk) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("job", Job.Type).Field("job_ref").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes implements ent.Schema.
func (JobChunk) Indexes() []ent.Index {
	return []ent.Index{index.Fields("job_ref", "kind", "seq").Unique()}
}

// Annotations implements ent.Schema.
func (JobChunk) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy implements ent.Schema (see Job).
func (JobChunk) Policy() ent.Policy { return authz.SystemOnly{} }

package schema

import (
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/mixin"
)

type mixinSchema = mixin.Schema

// entsqlCascade deletes children with their parent in the database itself, so
// a deleted user can never leave identities (and their credentials) behind.
func entsqlCascade() schema.Annotation {
	return entsql.OnDelete(entsql.Cascade)
}

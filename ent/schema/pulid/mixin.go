package pulid

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
)

// Mixin gives a schema a prefixed-ULID primary key.
type Mixin struct {
	mixin.Schema
	prefix string
}

// MixinWithPrefix returns the id mixin for one entity type; the prefix must be
// registered in Types.
func MixinWithPrefix(prefix string) Mixin {
	if _, ok := Types[prefix]; !ok {
		panic("pulid: unregistered prefix " + prefix)
	}
	return Mixin{prefix: prefix}
}

// Fields implements ent.Mixin.
func (m Mixin) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").
			GoType(ID("")).
			DefaultFunc(func() ID { return MustNew(m.prefix) }).
			Immutable(),
	}
}

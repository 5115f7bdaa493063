// Package userlist pages through users by keyset: a page starts strictly
// after (or ends strictly before) the position of a row, given as the row's
// sort value and its id, so pages neither skip nor repeat rows when users are
// inserted or deleted between requests, and no page costs more than the rows
// it returns, however deep it is. GraphQL's users connection and REST's
// GET /api/v2/users share it.
//
// Order: by one column (or by id alone), ties broken by id in the same
// direction. Rows whose column is NULL come last in both directions. Each
// query is shaped for a btree index on (column, id): the non-NULL rows are
// read with a row comparison, (column, id) > ($1, $2), the NULL rows with
// column IS NULL AND id > $1, each in index order.
package userlist

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/user"
)

// Kind is the Go type of a sortable column's values.
type Kind int

const (
	KindTime Kind = iota
	KindInt
	KindString
)

// Column describes a sortable column of users.
type Column struct {
	Name     string
	Kind     Kind
	Nullable bool
}

// Columns are the columns users sort by, by name. The empty name sorts by
// id alone (node ids are ULIDs: creation order).
var Columns = map[string]Column{
	user.FieldCreatedAt:   {Name: user.FieldCreatedAt, Kind: KindTime},
	user.FieldUpdatedAt:   {Name: user.FieldUpdatedAt, Kind: KindTime},
	user.FieldLastLogin:   {Name: user.FieldLastLogin, Kind: KindTime, Nullable: true},
	user.FieldLoginsCount: {Name: user.FieldLoginsCount, Kind: KindInt},
	user.FieldUserID:      {Name: user.FieldUserID, Kind: KindString},
	user.FieldEmail:       {Name: user.FieldEmail, Kind: KindString, Nullable: true},
	user.FieldName:        {Name: user.FieldName, Kind: KindString, Nullable: true},
	user.FieldGivenName:   {Name: user.FieldGivenName, Kind: KindString, Nullable: true},
	user.FieldFamilyName:  {Name: user.FieldFamilyName, Kind: KindString, Nullable: true},
	user.FieldNickname:    {Name: user.FieldNickname, Kind: KindString, Nullable: true},
	user.FieldUsername:    {Name: user.FieldUsername, Kind: KindString, Nullable: true},
}

// Order is a sort: by Column (Name "" for id alone), descending or not.
type Order struct {
	Column Column
	Desc   bool
}

// Key is a row's position in an order: its sort value (nil for NULL, and
// for the id-only order) and its id.
type Key struct {
	Value any
	ID    pulid.ID
}

// ErrBadKey is returned for a key whose value does not fit the order's
// column (a cursor made for another order, or forged).
var ErrBadKey = errors.New("the cursor does not belong to this order")

// KeyOf returns u's position in order o.
func KeyOf(u *ent.User, o Order) Key {
	k := Key{ID: u.ID}
	switch o.Column.Name {
	case user.FieldCreatedAt:
		k.Value = u.CreatedAt
	case user.FieldUpdatedAt:
		k.Value = u.UpdatedAt
	case user.FieldLastLogin:
		k.Value = deref(u.LastLogin)
	case user.FieldLoginsCount:
		k.Value = int64(u.LoginsCount)
	case user.FieldUserID:
		k.Value = u.UserID
	case user.FieldEmail:
		k.Value = deref(u.Email)
	case user.FieldName:
		k.Value = deref(u.Name)
	case user.FieldGivenName:
		k.Value = deref(u.GivenName)
	case user.FieldFamilyName:
		k.Value = deref(u.FamilyName)
	case user.FieldNickname:
		k.Value = deref(u.Nickname)
	case user.FieldUsername:
		k.Value = deref(u.Username)
	}
	return k
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// Normalize checks k against o's column and converts its value to the
// column's Go type (a decoded cursor may carry any integer type).
func (o Order) Normalize(k Key) (Key, error) {
	if k.ID == "" {
		return k, ErrBadKey
	}
	if o.Column.Name == "" {
		k.Value = nil // the id-only order ignores the value
		return k, nil
	}
	if k.Value == nil {
		if !o.Column.Nullable {
			return k, ErrBadKey
		}
		return k, nil
	}
	switch o.Column.Kind {
	case KindTime:
		t, ok := k.Value.(time.Time)
		if !ok {
			return k, ErrBadKey
		}
		k.Value = t.UTC()
	case KindInt:
		rv := reflect.ValueOf(k.Value)
		switch {
		case rv.CanInt():
			k.Value = rv.Int()
		case rv.CanUint() && rv.Uint() <= 1<<62:
			k.Value = int64(rv.Uint())
		default:
			return k, ErrBadKey
		}
	case KindString:
		if _, ok := k.Value.(string); !ok {
			return k, ErrBadKey
		}
	}
	return k, nil
}

// Request is one page: at most Limit rows strictly after After and strictly
// before Before (either may be nil). Backward takes the last Limit rows of
// that range (Relay's last/before) instead of the first.
type Request struct {
	Order         Order
	After, Before *Key
	Limit         int
	Backward      bool
}

// Result is a page in order. More reports that the range holds rows beyond
// the page on the side it was taken from (after its last row going forward,
// before its first row going backward).
type Result struct {
	Users []*ent.User
	More  bool
}

// Page runs r over q, a users query holding only filters: up to two
// statements (the non-NULL rows, then the NULL rows, when the first does not
// fill the page), each reading at most Limit+1 rows.
func Page(ctx context.Context, q *ent.UserQuery, r Request) (Result, error) {
	if r.Limit <= 0 {
		// Relay's first: 0 still tells whether rows follow.
		res, err := Page(ctx, q, Request{Order: r.Order, After: r.After, Before: r.Before, Limit: 1, Backward: r.Backward})
		return Result{Users: []*ent.User{}, More: len(res.Users) > 0}, err
	}
	segs := []int{segValues}
	if r.Order.Column.Nullable {
		segs = append(segs, segNulls)
	}
	if r.Backward {
		slices.Reverse(segs)
	}
	want := r.Limit + 1
	var rows []*ent.User
	for _, seg := range segs {
		if len(rows) >= want {
			break
		}
		sq, ok := r.segment(q.Clone(), seg)
		if !ok {
			continue
		}
		got, err := sq.Limit(want - len(rows)).All(ctx)
		if err != nil {
			return Result{}, err
		}
		rows = append(rows, got...)
	}
	res := Result{Users: rows, More: len(rows) > r.Limit}
	if res.More {
		res.Users = rows[:r.Limit]
	}
	if r.Backward {
		slices.Reverse(res.Users)
	}
	return res, nil
}

// The natural order's two segments: rows with a value, then rows with
// NULL (only for nullable columns).
const (
	segValues = iota
	segNulls
)

func segmentOf(k *Key) int {
	if k.Value == nil {
		return segNulls
	}
	return segValues
}

// segment restricts q to segment seg and the request's bounds and orders it
// in the reading direction; ok is false when the bounds exclude the whole
// segment.
func (r Request) segment(q *ent.UserQuery, seg int) (_ *ent.UserQuery, ok bool) {
	col := r.Order.Column.Name
	if col == "" {
		seg = segValues
	}
	if r.Order.Column.Nullable {
		if seg == segNulls {
			q.Where(func(s *sql.Selector) { s.Where(sql.IsNull(s.C(col))) })
		} else {
			q.Where(func(s *sql.Selector) { s.Where(sql.NotNull(s.C(col))) })
		}
	}
	// after: rows later in the natural order; before: earlier.
	for _, b := range []struct {
		k     *Key
		later bool
	}{{r.After, true}, {r.Before, false}} {
		if b.k == nil {
			continue
		}
		ks := segmentOf(b.k)
		if col == "" {
			ks = segValues
		}
		switch {
		case ks == seg:
			q.Where(r.beyond(seg, *b.k, b.later))
		case (seg > ks) != b.later:
			return nil, false // the whole segment is on the wrong side
		}
	}
	desc := r.Order.Desc != r.Backward
	q.Order(func(s *sql.Selector) {
		var terms []string
		if col != "" && seg == segValues {
			terms = append(terms, dir(s.C(col), desc))
		}
		s.OrderBy(append(terms, dir(s.C(user.FieldID), desc))...)
	})
	return q, true
}

// beyond is the keyset predicate within one segment: rows after k (later)
// or before it in the natural order.
func (r Request) beyond(seg int, k Key, later bool) func(*sql.Selector) {
	greater := later != r.Order.Desc
	return func(s *sql.Selector) {
		col := r.Order.Column.Name
		if col == "" || seg == segNulls {
			if greater {
				s.Where(sql.GT(s.C(user.FieldID), k.ID))
			} else {
				s.Where(sql.LT(s.C(user.FieldID), k.ID))
			}
			return
		}
		cols := []string{s.C(col), s.C(user.FieldID)}
		if greater {
			s.Where(sql.CompositeGT(cols, k.Value, k.ID))
		} else {
			s.Where(sql.CompositeLT(cols, k.Value, k.ID))
		}
	}
}

func dir(col string, desc bool) string {
	if desc {
		return sql.Desc(col)
	}
	return sql.Asc(col)
}

// String names the order for cursors and errors ("created_at:-1").
func (o Order) String() string {
	d := "1"
	if o.Desc {
		d = "-1"
	}
	return fmt.Sprintf("%s:%s", o.Column.Name, d)
}

// OrderBy orders a whole (offset-paged) query as Page does: NULLs last in
// both directions, ties by id in the order's direction.
func OrderBy(o Order) func(*sql.Selector) {
	opts := []sql.OrderTermOption{}
	if o.Desc {
		opts = append(opts, sql.OrderDesc())
	}
	return func(s *sql.Selector) {
		if o.Column.Name != "" {
			sql.OrderByField(o.Column.Name, append([]sql.OrderTermOption{sql.OrderNullsLast()}, opts...)...).ToFunc()(s)
		}
		sql.OrderByField(user.FieldID, opts...).ToFunc()(s)
	}
}

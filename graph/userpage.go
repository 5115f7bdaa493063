package graph

import (
	"context"
	"errors"
	"fmt"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/graph/model"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/userlist"
)

// userOrderColumns maps UserOrderField to the keyset's columns.
var userOrderColumns = map[string]userlist.Column{
	ent.UserOrderFieldCreatedAt.String():   userlist.Columns[user.FieldCreatedAt],
	ent.UserOrderFieldUpdatedAt.String():   userlist.Columns[user.FieldUpdatedAt],
	ent.UserOrderFieldLastLogin.String():   userlist.Columns[user.FieldLastLogin],
	ent.UserOrderFieldLoginsCount.String(): userlist.Columns[user.FieldLoginsCount],
}

// pageUsers pages q by keyset (userlist) rather than ent's Paginate, which
// counts every matching row whenever pageInfo is selected. Cursors keep
// ent's encoding (the node id and the list of order values), so a cursor
// from before still reads. The total is counted only when selected.
func pageUsers(ctx context.Context, client *ent.Client, q *ent.UserQuery, after *entgql.Cursor[pulid.ID], first *int, before *entgql.Cursor[pulid.ID], last *int, orderBy []*ent.UserOrder) (*model.UserConnection, error) {
	if first != nil && last != nil {
		return nil, &identity.ValidationError{Field: "last", Message: "first and last cannot be given together"}
	}
	var order userlist.Order
	switch len(orderBy) {
	case 0:
		// Creation order, as REST's default. Node ids are ULIDs, so id
		// order is nearly the same, but a page filtered by a created_at
		// range and read in id order made Postgres walk the primary key
		// past every earlier user (500,000 rows at a million users);
		// in created_at order the range is an index range.
		order = userlist.Order{Column: userlist.Columns[user.FieldCreatedAt]}
	case 1:
		col, ok := userOrderColumns[orderBy[0].Field.String()]
		if !ok {
			return nil, &identity.ValidationError{Field: "orderBy", Message: "unknown order field"}
		}
		order = userlist.Order{Column: col, Desc: orderBy[0].Direction == entgql.OrderDirectionDesc}
	default:
		return nil, &identity.ValidationError{Field: "orderBy", Message: "users sort by at most one field (ties are broken by id)"}
	}
	counted := q.Clone()
	conn := model.NewUserConnection(func(ctx context.Context) (int, bool, error) {
		return userlist.Count(ctx, client, counted, userlist.ExactCountBound)
	})
	req := userlist.Request{Order: order, Limit: DefaultPageSize}
	var err error
	if req.After, err = cursorKey(order, after, "after"); err != nil {
		return nil, err
	}
	if req.Before, err = cursorKey(order, before, "before"); err != nil {
		return nil, err
	}
	switch {
	case first != nil:
		req.Limit = *first
	case last != nil:
		req.Limit, req.Backward = *last, true
	}
	// A query for the total alone reads no page.
	if !selects(ctx, "edges") && !selects(ctx, "pageInfo") {
		return conn, nil
	}
	res, err := userlist.Page(ctx, q, req)
	if err != nil {
		return nil, err
	}
	conn.Edges = make([]*ent.UserEdge, len(res.Users))
	for i, u := range res.Users {
		k := userlist.KeyOf(u, order)
		values := []any{}
		if order.Column.Name != "" {
			values = []any{k.Value}
		}
		conn.Edges[i] = &ent.UserEdge{Node: u, Cursor: ent.Cursor{ID: u.ID, Value: values}}
	}
	if n := len(conn.Edges); n > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[n-1].Cursor
	}
	// The side the page was read towards is known from its extra row; the
	// other side is reported false, as Relay allows when it is not known
	// cheaply (and as ent's pagination did).
	if req.Backward {
		conn.PageInfo.HasPreviousPage = res.More
	} else {
		conn.PageInfo.HasNextPage = res.More
	}
	return conn, nil
}

// cursorKey reads a cursor as a position in order; nil for no cursor.
func cursorKey(order userlist.Order, c *entgql.Cursor[pulid.ID], field string) (*userlist.Key, error) {
	if c == nil {
		return nil, nil
	}
	k := userlist.Key{ID: c.ID}
	switch v := c.Value.(type) {
	case []any:
		if len(v) > 1 {
			return nil, badCursor(field)
		}
		if len(v) == 1 {
			k.Value = v[0]
		}
	case nil:
	default:
		k.Value = v
	}
	k, err := order.Normalize(k)
	if errors.Is(err, userlist.ErrBadKey) {
		return nil, badCursor(field)
	}
	return &k, err
}

func badCursor(field string) error {
	return &identity.ValidationError{Field: field, Message: fmt.Sprintf("%s is not a cursor of this list and order", field)}
}

// selects reports whether the current field's selection holds field.
func selects(ctx context.Context, field string) bool {
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name == field {
			return true
		}
	}
	return false
}

package model

import (
	"context"
	"sync"

	"github.com/authgraph/authgraph/ent"
)

// UserConnection is a page of users whose total is counted only when a
// query selects it (totalCount or totalCountIsEstimate), once per page.
type UserConnection struct {
	Edges    []*ent.UserEdge
	PageInfo ent.PageInfo

	count    func(context.Context) (int, bool, error)
	once     sync.Once
	total    int
	estimate bool
	err      error
}

// NewUserConnection returns an empty page whose total count calls count
// (the number of users, and whether it is an estimate) when first asked.
func NewUserConnection(count func(context.Context) (int, bool, error)) *UserConnection {
	return &UserConnection{Edges: []*ent.UserEdge{}, count: count}
}

// Total returns the count, computing it on first use.
func (c *UserConnection) Total(ctx context.Context) (n int, estimate bool, err error) {
	c.once.Do(func() {
		if c.count != nil {
			c.total, c.estimate, c.err = c.count(ctx)
		}
	})
	return c.total, c.estimate, c.err
}

package apiv2

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Paging limits, as Auth0's. maxPage keeps page×per_page far from
// overflowing an int (and from an OFFSET no database walks quickly).
const (
	defaultPerPage = 50
	maxPerPage     = 100
	maxPage        = 1_000_000
)

// Page is a list request's paging: page (0-based), per_page, include_totals.
type Page struct {
	Page, PerPage int
	IncludeTotals bool
}

// Offset is the index of the page's first item.
func (p Page) Offset() int { return p.Page * p.PerPage }

// PageQuery documents the paging parameters (for the OpenAPI document).
type PageQuery struct {
	Page          int  `query:"page" doc:"Page index of the results to return. First page is 0."`
	PerPage       int  `query:"per_page" doc:"Number of results per page (at most 100, default 50)."`
	IncludeTotals bool `query:"include_totals" doc:"Return results inside an object that contains the total result count (true) or as a direct array of results (false, default)."`
}

// Paging parses page, per_page and include_totals.
func (r *Request) Paging() (Page, error) {
	p := Page{PerPage: defaultPerPage}
	q := r.URL.Query()
	var err error
	if v := q.Get("page"); v != "" {
		if p.Page, err = strconv.Atoi(v); err != nil || p.Page < 0 || p.Page > maxPage {
			return p, badQuery("page must be an integer between 0 and %d", maxPage)
		}
	}
	if v := q.Get("per_page"); v != "" {
		if p.PerPage, err = strconv.Atoi(v); err != nil || p.PerPage < 1 || p.PerPage > maxPerPage {
			return p, badQuery("per_page must be an integer between 1 and %d", maxPerPage)
		}
	}
	if p.IncludeTotals, err = r.Bool("include_totals", false); err != nil {
		return p, err
	}
	return p, nil
}

// Take parses checkpoint paging's take: default 50, at least 1, and above
// 100 it reads 100, as Auth0's checkpoint endpoints do.
func (r *Request) Take() (int, error) {
	v := r.URL.Query().Get("take")
	if v == "" {
		return defaultPerPage, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, badQuery("take must be a positive integer")
	}
	return min(n, maxPerPage), nil
}

// Bool parses a boolean query parameter ("true"/"false").
func (r *Request) Bool(name string, def bool) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return def, badQuery("%s must be true or false", name)
	}
	return b, nil
}

// List returns items as Auth0 does: a bare array, or with include_totals the
// envelope {start, limit, length, total, <key>: [...]}.
func List[T any](p Page, key string, items []T, total int) any {
	if items == nil {
		items = []T{}
	}
	if !p.IncludeTotals {
		return items
	}
	return map[string]any{
		"start":  p.Offset(),
		"limit":  p.PerPage,
		"length": len(items),
		"total":  total,
		key:      items,
	}
}

// ProjectedList is List of items with fields/include_fields applied to
// each (Project): the one way every listing renders a page.
func ProjectedList[T any](p Page, key string, items []T, total int, fields []string, include bool) (any, error) {
	if len(fields) == 0 {
		return List(p, key, items, total), nil
	}
	projected, err := Project(items, fields, include)
	if err != nil {
		return nil, err
	}
	list, _ := projected.([]map[string]json.RawMessage)
	return List(p, key, list, total), nil
}

// Fields parses fields and include_fields: the top-level properties to keep
// (include_fields true, the default) or to drop.
func (r *Request) Fields() (fields []string, include bool, err error) {
	include, err = r.Bool("include_fields", true)
	if err != nil {
		return nil, true, err
	}
	for f := range strings.SplitSeq(r.URL.Query().Get("fields"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			fields = append(fields, f)
		}
	}
	return fields, include, nil
}

// Project keeps (include) or drops the named top-level properties of v, an
// object or an array of objects. No fields: v unchanged.
func Project(v any, fields []string, include bool) (any, error) {
	if len(fields) == 0 {
		return v, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	keep := func(m map[string]json.RawMessage) map[string]json.RawMessage {
		out := make(map[string]json.RawMessage, len(fields))
		if include {
			for _, f := range fields {
				if val, ok := m[f]; ok {
					out[f] = val
				}
			}
			return out
		}
		for k, val := range m {
			out[k] = val
		}
		for _, f := range fields {
			delete(out, f)
		}
		return out
	}
	if len(raw) > 0 && raw[0] == '[' {
		var list []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, err
		}
		for i := range list {
			list[i] = keep(list[i])
		}
		return list, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return keep(m), nil
}

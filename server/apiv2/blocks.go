package apiv2

import (
	"net/http"

	"github.com/authgraph/authgraph/accounts"
)

// UserBlocks is Auth0's user-blocks object: the (identifier, IP) pairs
// brute-force protection refuses for now.
type UserBlocks struct {
	BlockedFor []UserBlock `json:"blocked_for"`
}

// UserBlock is one block in force.
type UserBlock struct {
	// Identifier is the email or username the attempts used, lowercased.
	Identifier string `json:"identifier"`
	IP         string `json:"ip"`
	// Connection is the connection's name (Auth0 sends it too, though the
	// SDKs' types do not all read it).
	Connection string `json:"connection,omitempty"`
}

// UserBlocksQuery documents ?identifier= (and Auth0's
// consider_brute_force_enablement, accepted and ignored).
type UserBlocksQuery struct {
	Identifier                   string `query:"identifier" doc:"Email or username whose brute-force blocks to list or lift (required)."`
	ConsiderBruteForceEnablement bool   `query:"consider_brute_force_enablement" doc:"Accepted for compatibility; blocks are listed whether or not the connection still has brute-force protection on."`
}

func (a *API) userBlockRoutes() []*Route {
	return []*Route{
		{
			Method: http.MethodGet, Path: "/user-blocks", Scopes: []string{"read:users"},
			Summary: "Get blocks by identifier",
			Description: "Lists the brute-force blocks in force for an email or username, in every connection and " +
				"from every IP. Counters exist for identifiers nobody has, so the answer does not tell whether an account exists.",
			Query: UserBlocksQuery{}, Response: UserBlocks{},
			Handle: func(r *Request) (any, error) {
				ident, err := blockIdentifier(r)
				if err != nil {
					return nil, err
				}
				bs, err := a.cfg.Accounts.Blocks(r.Ctx(), ident)
				return userBlocks(bs), err
			},
		},
		{
			Method: http.MethodDelete, Path: "/user-blocks", Scopes: []string{"update:users"},
			Summary: "Unblock by identifier",
			Description: "Lifts the brute-force blocks of an email or username in every connection and from every IP, " +
				"and forgets its failure counters. A user's blocked flag is not changed.",
			Query: UserBlocksQuery{}, Status: http.StatusNoContent,
			Handle: func(r *Request) (any, error) {
				ident, err := blockIdentifier(r)
				if err != nil {
					return nil, err
				}
				_, err = a.cfg.Accounts.UnblockAttempts(r.Ctx(), ident)
				return nil, err
			},
		},
		{
			Method: http.MethodGet, Path: "/user-blocks/{id}", Scopes: []string{"read:users"},
			Summary: "Get a user's blocks",
			Description: "Lists the brute-force blocks in force for the user's emails and usernames in the user's " +
				"connections. The id is the user_id or the node id.",
			Query: struct {
				ConsiderBruteForceEnablement bool `query:"consider_brute_force_enablement" doc:"Accepted for compatibility."`
			}{},
			Response: UserBlocks{},
			Handle: func(r *Request) (any, error) {
				if err := refuseUnknownQuery(r, "consider_brute_force_enablement"); err != nil {
					return nil, err
				}
				bs, err := a.cfg.Accounts.BlocksOfUser(r.Ctx(), r.Param("id"))
				return userBlocks(bs), err
			},
		},
		{
			Method: http.MethodDelete, Path: "/user-blocks/{id}", Scopes: []string{"update:users"},
			Summary: "Unblock a user",
			Description: "Lifts the brute-force blocks of the user's emails and usernames in the user's connections, " +
				"from every IP. The user's blocked flag (an administrator's block) is not changed, as in Auth0.",
			Status: http.StatusNoContent,
			Handle: func(r *Request) (any, error) {
				if err := refuseUnknownQuery(r); err != nil {
					return nil, err
				}
				_, err := a.cfg.Accounts.UnblockUser(r.Ctx(), r.Param("id"))
				return nil, err
			},
		},
	}
}

func blockIdentifier(r *Request) (string, error) {
	if err := refuseUnknownQuery(r, "identifier", "consider_brute_force_enablement"); err != nil {
		return "", err
	}
	if _, err := r.Bool("consider_brute_force_enablement", false); err != nil {
		return "", err
	}
	q := r.URL.Query()
	if len(q["identifier"]) != 1 || q.Get("identifier") == "" {
		return "", badQuery("Missing required property: identifier")
	}
	return q.Get("identifier"), nil
}

func userBlocks(bs []accounts.Block) UserBlocks {
	out := UserBlocks{BlockedFor: make([]UserBlock, 0, len(bs))}
	for _, b := range bs {
		out.BlockedFor = append(out.BlockedFor, UserBlock{Identifier: b.Identifier, IP: b.IP, Connection: b.Connection})
	}
	return out
}

// Package chaos holds Authgraph's failure tests: several `authgraph serve`
// processes sharing one PostgreSQL cluster, behind an in-test load
// balancer, under a mixed load of interactive logins, refreshes and
// management writes, while a node is killed (SIGKILL) and the database is
// stopped and started again. The tests check what an operator relies on:
// only requests in flight on a dead node fail, a database outage is
// answered quickly with 503, the nodes recover by themselves, and no
// acknowledged write or issued token is lost.
//
// `go test ./chaos` runs a short variant (part of `make test`);
// `make chaos` runs the long one (AUTHGRAPH_CHAOS=long, or
// -chaos.duration).
package chaos

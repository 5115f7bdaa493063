package server

import (
	"context"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/store"
)

// followRemoteChanges keeps the node's in-memory state that is not a
// store.Cache in step with changes other nodes announce through Postgres
// (store/notify.go): a key rotated or retired elsewhere is loaded within
// milliseconds instead of after the key set's refresh interval.
func followRemoteChanges(d *Deps) {
	store.OnRemoteChange(d.DB.Ent, func() {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := d.Keys.Reload(ctx); err != nil {
				// The refresh interval retries.
				d.Logger.Warn("reloading signing keys after a change on another node", "err", err)
			}
		}()
	}, ent.TypeSigningKey)
}

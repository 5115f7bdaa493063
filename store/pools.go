package store

import "database/sql"

// TransientSQL is the pool of transient writes (transient.go), for its
// statistics; nil on SQLite, where they go through SQL.
func (d *DB) TransientSQL() *sql.DB {
	if d.tdrv == nil {
		return nil
	}
	return d.tdrv.DB()
}

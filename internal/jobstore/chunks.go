package jobstore

import (
	"context"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/jobchunk"
	"github.com/authgraph/authgraph/ent/schema/pulid"
)

// ChunkSize is the size of the pieces a job's files (an import's upload,
// an export's output) are stored in.
const ChunkSize = 1 << 20

// ChunkWriter stores what is written to it as job Job's chunks of Kind,
// ChunkSize each, numbered from 0. Call Flush to store the last, short one.
type ChunkWriter struct {
	Ctx  context.Context
	DB   *ent.Client
	Job  pulid.ID
	Kind jobchunk.Kind
	// Fence, when set, runs before each chunk's insert in one transaction
	// with it (DB must then not be a transaction's client): an error from
	// it (say, ErrLeaseLost) stores nothing.
	Fence func(tx *ent.Client) error

	buf  []byte
	seq  int
	size int64
}

func (w *ChunkWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		take := min(ChunkSize-len(w.buf), len(p))
		w.buf = append(w.buf, p[:take]...)
		p = p[take:]
		if len(w.buf) == ChunkSize {
			if err := w.Flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// Flush stores what is buffered as the next chunk.
func (w *ChunkWriter) Flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	if err := w.store(); err != nil {
		return err
	}
	w.seq++
	w.size += int64(len(w.buf))
	w.buf = w.buf[:0]
	return nil
}

func (w *ChunkWriter) store() error {
	insert := func(db *ent.Client) error {
		return db.JobChunk.Create().SetJobRef(w.Job).SetKind(w.Kind).SetSeq(w.seq).SetData(w.buf).Exec(w.Ctx)
	}
	if w.Fence == nil {
		return insert(w.DB)
	}
	tx, err := w.DB.Tx(w.Ctx)
	if err != nil {
		return err
	}
	if err := w.Fence(tx.Client()); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := insert(tx.Client()); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Size is the number of bytes stored so far.
func (w *ChunkWriter) Size() int64 { return w.size }

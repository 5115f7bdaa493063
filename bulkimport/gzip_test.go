package bulkimport_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/bulkimport"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/identity"
)

func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestGzipFile imports a gzip-compressed file as the plain one; a gzip
// bomb is refused once its decompressed size passes the cap, and a corrupt
// gzip stream is a malformed file.
func TestGzipFile(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *ent.Client) {
		const n = 300
		j := newJob(t, db, gzipped(t, file(n, true)))
		if j.TotalRows != n {
			t.Fatalf("gzip file: %d rows, want %d", j.TotalRows, n)
		}
		if worked, err := (&bulkimport.Runner{DB: db, Owner: "gz"}).RunOnce(context.Background()); !worked || err != nil {
			t.Fatalf("%v %v", worked, err)
		}
		check(t, db, string(j.ID), n)

		// 4 MiB of whitespace after one row compresses to a few KB.
		defer bulkimport.SetMaxDecompressed(1 << 20)()
		bomb := gzipped(t, append([]byte(`{"email":"bomb@example.com"}`), bytes.Repeat([]byte(" "), 4<<20)...))
		_, err := bulkimport.NewService(db).CreateImport(sys, bulkimport.ImportInput{Connection: conn, File: bytes.NewReader(bomb)})
		var ve *identity.ValidationError
		if !errors.As(err, &ve) || ve.Field != "users" || !strings.Contains(ve.Message, "decompressed") {
			t.Fatalf("gzip bomb: %v", err)
		}
		corrupt := gzipped(t, file(50, false))
		corrupt = corrupt[:len(corrupt)/2]
		_, err = bulkimport.NewService(db).CreateImport(sys, bulkimport.ImportInput{Connection: conn, File: bytes.NewReader(corrupt)})
		if !errors.As(err, &ve) || ve.Field != "users" || !strings.Contains(ve.Message, "gzip") {
			t.Fatalf("truncated gzip: %v", err)
		}
	})
}

package bulkexport

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/logs"
)

// DownloadHandler serves completed exports at …/exports/{job_id}.{json|csv}.gz
// with the job's download token in the token query parameter (the URL a
// job's location gives). The token is the authentication: the URL is
// handed to SDKs that fetch it without credentials, as Auth0's location is.
func DownloadHandler(db *ent.Client, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		file := r.PathValue("file")
		id, _, _ := strings.Cut(file, ".")
		refuse := func(status int, msg string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]any{"statusCode": status, "error": http.StatusText(status), "message": msg})
		}
		j, err := OpenDownload(r.Context(), db, pulid.ID(id), r.URL.Query().Get("token"))
		if err == nil && FileName(j) != file {
			err = ErrDownloadRefused
		}
		if err != nil {
			if errors.Is(err, ErrDownloadRefused) {
				refuse(http.StatusForbidden, err.Error())
				return
			}
			log.Error("export download", "err", err)
			refuse(http.StatusInternalServerError, "Internal error")
			return
		}
		// The download is the moment personal data leaves: it is logged
		// before a byte is sent, and not served when it cannot be.
		if err := logs.Write(r.Context(), db, logs.Event{Type: logs.TypeManagementRead,
			Description: "Download a users export " + string(j.ID),
			Details:     map[string]any{"operation": "downloadUsersExport", "job_id": string(j.ID), "created_by": j.CreatedBy}}); err != nil {
			log.Error("export download", "job", j.ID, "err", err)
			refuse(http.StatusInternalServerError, "Internal error")
			return
		}
		serveChunks(w, r, db, j, log)
	})
}

func serveChunks(w http.ResponseWriter, r *http.Request, db *ent.Client, j *ent.Job, log *slog.Logger) {
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+FileName(j)+`"`)
	rc := http.NewResponseController(w)
	for seq := 0; ; seq++ {
		b, err := Chunk(r.Context(), db, j.ID, seq)
		if err != nil {
			if seq == 0 {
				http.Error(w, "Internal error", http.StatusInternalServerError)
			}
			log.Error("export download", "job", j.ID, "err", err)
			return
		}
		if b == nil {
			return
		}
		// The server's write timeout suits API calls, not a large file
		// to a slow client: each chunk gets its own allowance.
		_ = rc.SetWriteDeadline(time.Now().Add(time.Minute))
		if _, err := w.Write(b); err != nil {
			return
		}
	}
}

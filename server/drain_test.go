package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestRequestTimeout: a request's context ends at the request timeout,
// except for export downloads and import uploads (by route, not by what
// the client asks for); a negative timeout sets no deadline.
func TestRequestTimeout(t *testing.T) {
	var deadline time.Duration
	var had bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := r.Context().Deadline()
		had, deadline = ok, time.Until(d)
		if ok {
			<-r.Context().Done() // the work a deadline cancels
		}
	})
	start := time.Now()
	withRequestTimeout(50*time.Millisecond, "/", h).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/userinfo", nil))
	if !had || deadline > 50*time.Millisecond || time.Since(start) > 5*time.Second {
		t.Fatalf("deadline %v %v, took %v", had, deadline, time.Since(start))
	}
	withRequestTimeout(0, "/", h).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/exports/x.ndjson.gz", nil))
	if had {
		t.Fatal("an export download has a deadline")
	}
	withRequestTimeout(0, "/", h).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/api/v2/jobs/users-imports", nil))
	if had {
		t.Fatal("an import upload has a deadline")
	}
	// What the client sends does not lift the deadline.
	sse := httptest.NewRequest("GET", "/userinfo", nil)
	sse.Header.Set("Accept", "text/event-stream")
	start = time.Now()
	withRequestTimeout(50*time.Millisecond, "/", h).ServeHTTP(httptest.NewRecorder(), sse)
	if !had || time.Since(start) > 5*time.Second {
		t.Fatal("Accept: text/event-stream lifted the deadline")
	}
	withRequestTimeout(-1, "/", h).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/userinfo", nil))
	if had {
		t.Fatal("no timeout, yet a deadline")
	}
	withRequestTimeout(0, "/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := r.Context().Deadline()
		had, deadline = ok, time.Until(d)
	})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/userinfo", nil))
	if !had || deadline <= DefaultRequestTimeout-time.Second || deadline > DefaultRequestTimeout {
		t.Fatalf("default deadline %v %v", had, deadline)
	}
}

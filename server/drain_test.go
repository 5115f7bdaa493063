package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestRequestTimeout: a request's context ends at the request timeout,
// except for export downloads; a negative timeout sets no deadline.
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

package metrics

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics are the request counter and latency histogram of the main
// listener, by route (the ServeMux pattern that matched, never the raw
// path: paths carry user ids), method and status code.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	kids     childCache[httpKey, httpChild]
}

type httpKey struct {
	route, method string
	code          int
}

type httpChild struct {
	count prometheus.Counter
	dur   prometheus.Observer
}

func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests served, by route (the matched pattern), method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its handler, by route, method and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "code"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

func (m *httpMetrics) child(route, method string, code int) httpChild {
	return m.kids.get(httpKey{route, method, code}, func(k httpKey) httpKey {
		k.route = labelOther
		return k
	}, func(k httpKey) httpChild {
		c := strconv.Itoa(k.code)
		return httpChild{
			count: m.requests.WithLabelValues(k.route, k.method, c),
			dur:   m.duration.WithLabelValues(k.route, k.method, c),
		}
	})
}

// RouteUnmatched is the route label of a request that no pattern matched
// (or that a middleware answered before the mux saw it: a body too
// large, say).
const RouteUnmatched = "unmatched"

// Instrument counts and times every request next serves. It wraps the
// whole handler chain, so that answers of outer middleware count too;
// the route label comes from Routes, which must wrap the ServeMux inside
// it. Without a registry it returns next.
func (r *Registry) Instrument(next http.Handler) http.Handler {
	if r == nil {
		return next
	}
	m := r.http
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, req)
		route := rec.route
		if route == "" {
			route = RouteUnmatched
		}
		code := rec.status
		if code == 0 {
			code = http.StatusOK // nothing written: net/http answers 200
		}
		c := m.child(route, method(req.Method), code)
		c.count.Inc()
		c.dur.Observe(time.Since(start).Seconds())
	})
}

// Routes records, for Instrument, the pattern mux matched (without its
// method: that is a label of its own). A handler mounted on a subtree
// pattern ("/", "/api/v2/") that serves a ServeMux of its own with the
// same request sets a more precise pattern, which wins; exact maps the
// full paths of the endpoints behind a subtree pattern that has no mux
// (the OpenID Provider's) to their route labels. Without a registry it
// returns mux.
func (r *Registry) Routes(mux http.Handler, exact map[string]string) http.Handler {
	if r == nil {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mux.ServeHTTP(w, req)
		rec := findRecorder(w)
		if rec == nil {
			return
		}
		route := req.Pattern
		if _, path, ok := strings.Cut(route, " "); ok {
			route = path
		}
		if rec.sub != "" { // SetRoute: a handler that routes by itself
			route = rec.sub
		}
		if strings.HasSuffix(route, "/") {
			if label, ok := exact[req.URL.Path]; ok {
				route = label
			}
		}
		rec.route = route
	})
}

// method is the method label: the standard methods, or "other" (a client
// chooses the method, and must not choose new series).
func method(m string) string {
	switch m {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodPost:
		return http.MethodPost
	case http.MethodPut:
		return http.MethodPut
	case http.MethodPatch:
		return http.MethodPatch
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodHead:
		return http.MethodHead
	case http.MethodOptions:
		return http.MethodOptions
	}
	return labelOther
}

// recorder keeps the status code of a response and the route Routes found.
type recorder struct {
	http.ResponseWriter
	status int
	route  string
	sub    string // set by SetRoute
}

// SetRoute gives the request answered through w the route label route,
// for a handler that routes below the server's mux by itself (the REST
// management API): route must be a pattern from a fixed set ("/api/v2/users/{id}"),
// never a path. Without metrics it does nothing.
func SetRoute(w http.ResponseWriter, route string) {
	if rec := findRecorder(w); rec != nil {
		rec.sub = route
	}
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 && code >= 200 { // 1xx answers are not the status
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush keeps streaming responses streaming.
func (w *recorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if w.status == 0 {
			w.status = http.StatusOK
		}
		f.Flush()
	}
}

// ReadFrom keeps io.Copy to the response on the connection's fast path
// (file downloads).
func (w *recorder) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, src)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type writerOnly struct{ io.Writer }

// findRecorder finds Instrument's recorder under middleware that wrapped
// the writer (and can unwrap it).
func findRecorder(w http.ResponseWriter) *recorder {
	for range 16 {
		if rec, ok := w.(*recorder); ok {
			return rec
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
	return nil
}

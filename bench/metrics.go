package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/authgraph/authgraph/server"
)

// metricsOn is -metrics: the server measures, and its /metrics is scraped
// every 5 s (three times Prometheus's usual rate) while the workloads run,
// so the figures include the cost of recording and of exposition.
var metricsOn bool

// benchMetrics serves the server's metrics on a loopback port and scrapes
// them until stop; without -metrics it does nothing.
func benchMetrics(deps *server.Deps) (stop func(), err error) {
	h := server.MetricsHandler(deps)
	if h == nil {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln) //nolint:errcheck
	url := "http://" + ln.Addr().String() + "/metrics"
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		scrapes, bytes := 0, 0
		for {
			select {
			case <-done:
				fmt.Fprintf(os.Stderr, "metrics: %d scrapes, %d bytes last\n", scrapes, bytes)
				return
			case <-t.C:
			}
			resp, err := http.Get(url)
			if err != nil {
				fmt.Fprintln(os.Stderr, "metrics scrape:", err)
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				fmt.Fprintln(os.Stderr, "metrics scrape: status", resp.StatusCode)
			}
			scrapes, bytes = scrapes+1, len(b)
		}
	}()
	fmt.Fprintln(os.Stderr, "metrics on: scraped every 5s at", url)
	return func() {
		close(done)
		<-finished
		srv.Close()
	}, nil
}

package logstream

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestPostErrorHidesTheURLsSecrets: a failed POST's error, which is
// logged, names the receiver without the token its query or user info hold.
func TestPostErrorHidesTheURLsSecrets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: the POST fails to connect
	s := &Streamer{c: Config{URL: "http://hook:pw-s3cr3t@" + addr + "/ingest?token=tok-s3cr3t",
		Timeout: 2 * time.Second, HTTP: &http.Client{}}}
	err = s.post(context.Background(), []byte("[]"))
	if err == nil {
		t.Fatal("a POST to a closed port succeeded")
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("the error repeats a secret of the URL: %v", err)
	}
	if !strings.Contains(err.Error(), addr+"/ingest") {
		t.Fatalf("the error does not name the receiver: %v", err)
	}
}

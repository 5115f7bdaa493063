package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authgraph/authgraph/internal/testenv"
)

// TestServeShutdownDrains runs the real binary and sends it SIGTERM while a
// request is in flight: /readyz turns 503 {"status":"draining"} at once,
// the in-flight request (its body still arriving after the drain delay, so
// it spans the shutdown) gets its complete response, and the process exits
// 0 soon after.
func TestServeShutdownDrains(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "authgraph")
	// No cgo, as the container image and the other tests that build the
	// binary (chaos, deploy) do: they share one compile in the build cache.
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	const drain = 1500 * time.Millisecond
	cmd := exec.Command(bin, "serve", "--listen", addr, "--database", "sqlite:"+filepath.Join(dir, "a.db"),
		"--rules-cache-dir", filepath.Join(dir, "rules-cache"), "--shutdown-drain", drain.String(), "--shutdown-timeout", "10s")
	cmd.Env = append(os.Environ(), "AUTHGRAPH_LOG_FORMAT=text")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	readyz := func() (int, string) {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if code, _ := readyz(); code == http.StatusOK {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("the server exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the server did not become ready")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A token request whose body is only half sent.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := "grant_type=client_credentials&client_id=nobody&client_secret=nothing"
	half := len(body) / 2
	fmt.Fprintf(conn, "POST /oauth/token HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body[:half])
	time.Sleep(200 * time.Millisecond)

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var code int
	var text string
	for time.Since(start) < drain {
		if code, text = readyz(); code == http.StatusServiceUnavailable {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(text, `"draining"`) {
		t.Fatalf("readyz during the drain: %d %s", code, text)
	}
	t.Logf("readyz 503 draining %v after SIGTERM", time.Since(start))

	// Past the drain delay the listener is closed, but the request in
	// flight is still served.
	time.Sleep(time.Until(start.Add(drain + 500*time.Millisecond)))
	if _, err := io.WriteString(conn, body[half:]); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the in-flight request: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), "invalid_client") {
		t.Fatalf("the in-flight request: %d %s %v", resp.StatusCode, b, err)
	}

	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
		if d := time.Since(start); d > drain+10*time.Second {
			t.Fatalf("exited %v after SIGTERM", d)
		}
		t.Logf("exited 0 %v after SIGTERM", time.Since(start))
	case <-time.After(drain + 15*time.Second):
		t.Fatal("the server did not exit")
	}
}

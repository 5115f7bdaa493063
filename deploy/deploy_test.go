// Package deploy holds the deployment files (systemd unit, container image,
// Grafana dashboard). Its tests check the promises those files rely on: the
// binary builds static without cgo (distroless/static has no libc), it runs
// as the image's unprivileged user with the image's settings, and the unit's
// stop timeout leaves room for a graceful shutdown.
package deploy

import (
	"bufio"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authgraph/authgraph/server"
)

// nonroot is distroless's unprivileged user and group.
const nonroot = 65532

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// buildStatic builds the binary without cgo, as the Dockerfile does (its
// -trimpath and -ldflags change nothing that matters here), once for the
// whole test binary, with the flags of the other tests that build it (chaos,
// cmd/authgraph), so that one compile in the build cache serves all three.
func buildStatic(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "authgraph-deploy-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "authgraph")
		cmd := exec.Command("go", "build", "-o", builtBin, "./cmd/authgraph")
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("CGO_ENABLED=0 go build: %v\n%s", err, b)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// dockerfile returns the final stage's ENV settings, USER, ENTRYPOINT and CMD.
func dockerfile(t *testing.T) (env map[string]string, user string, argv []string) {
	t.Helper()
	f, err := os.Open("container/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env = map[string]string{}
	var entry, cmd []string
	var logical strings.Builder
	sc := bufio.NewScanner(f)
	flush := func() {
		line := strings.TrimSpace(logical.String())
		logical.Reset()
		keyword, rest, _ := strings.Cut(line, " ")
		switch strings.ToUpper(keyword) {
		case "FROM":
			// A new stage: only the last one's settings count.
			env, user, entry, cmd = map[string]string{}, "", nil, nil
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("Dockerfile: ENV %q is not KEY=VALUE", kv)
				}
				env[k] = v
			}
		case "USER":
			user = strings.TrimSpace(rest)
		case "ENTRYPOINT", "CMD":
			var v []string
			if err := json.Unmarshal([]byte(rest), &v); err != nil {
				t.Fatalf("Dockerfile: %s must be in exec (JSON) form: %v", keyword, err)
			}
			if strings.EqualFold(keyword, "ENTRYPOINT") {
				entry = v
			} else {
				cmd = v
			}
		}
	}
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			logical.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		logical.WriteString(line)
		flush()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return env, user, append(entry, cmd...)
}

func TestStaticBinary(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the image is linux/amd64")
	}
	bin := buildStatic(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary asks for a dynamic loader: it would not start on distroless/static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("the binary links shared libraries %v: it would not start on distroless/static", libs)
	}
}

// TestImageRuns runs the static binary the way the image does: the image's
// entrypoint and environment, as its unprivileged user, with no writable
// place but the cache directory the image hands to that user.
func TestImageRuns(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the image is linux/amd64")
	}
	if os.Geteuid() != 0 {
		t.Skip("running as another user needs root")
	}
	env, user, argv := dockerfile(t)
	if user != fmt.Sprintf("%d:%d", nonroot, nonroot) {
		t.Fatalf("the image must run as %d:%d, not %q", nonroot, nonroot, user)
	}
	if len(argv) != 2 || argv[0] != "/usr/local/bin/authgraph" || argv[1] != "serve" {
		t.Fatalf("entrypoint+cmd = %q, want the binary's serve command", argv)
	}
	if !strings.HasPrefix(env["AUTHGRAPH_LISTEN"], "0.0.0.0:") {
		t.Fatalf("the image must listen on all interfaces, got AUTHGRAPH_LISTEN=%q", env["AUTHGRAPH_LISTEN"])
	}
	bin := buildStatic(t)

	// Stand-ins for the image's filesystem: the cache directory belongs to
	// the runtime user, the working directory does not.
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(root, strings.TrimPrefix(env["AUTHGRAPH_RULES_CACHE_DIR"], "/"))
	data := filepath.Join(root, "data")
	for _, d := range []string{cache, data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, nonroot, nonroot); err != nil {
			t.Fatal(err)
		}
	}
	// t.TempDir's parents must be enterable by the runtime user.
	for d := root; d != "/" && d != "."; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exe := filepath.Join(root, "authgraph")
	if b, err := os.ReadFile(bin); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, argv[1:]...)
	cmd.Dir = root
	cmd.Env = []string{"HOME=/nonexistent", "PATH=/usr/local/bin"}
	for k, v := range env {
		if k == "AUTHGRAPH_RULES_CACHE_DIR" {
			v = cache
		}
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// All interfaces in the image; here a loopback port of the test's. An
	// image is always run with an https:// issuer.
	cmd.Env = append(cmd.Env,
		fmt.Sprintf("AUTHGRAPH_LISTEN=127.0.0.1:%d", port),
		"AUTHGRAPH_ISSUER=https://id.example.test/",
		"AUTHGRAPH_DATABASE_URL=sqlite:"+filepath.Join(data, "authgraph.db"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nonroot, Gid: nonroot}}
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("the server exited before it was ready: %v\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 90 s\n%s", logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	// What the process wrote belongs to the runtime user.
	st, err := os.Stat(filepath.Join(data, "authgraph.db"))
	if err != nil {
		t.Fatalf("no database file: %v\n%s", err, logs.String())
	}
	if uid := st.Sys().(*syscall.Stat_t).Uid; uid != nonroot {
		t.Fatalf("database file owned by uid %d, want %d", uid, nonroot)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("SIGTERM: the server exited with %v\n%s", err, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the server did not stop within 60 s of SIGTERM\n%s", logs.String())
	}
}

// unitSetting returns the value of key in the systemd unit (the last one
// set, as systemd reads it).
func unitSetting(t *testing.T, key string) string {
	t.Helper()
	b, err := os.ReadFile("systemd/authgraph.service")
	if err != nil {
		t.Fatal(err)
	}
	val := ""
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == key {
			val = strings.TrimSpace(v)
		}
	}
	return val
}

// TestSystemdUnit checks the unit's settings the server depends on.
func TestSystemdUnit(t *testing.T) {
	if got := unitSetting(t, "ExecStart"); got != "/usr/local/bin/authgraph serve" {
		t.Fatalf("ExecStart = %q", got)
	}
	if got := unitSetting(t, "KillSignal"); got != "SIGTERM" {
		t.Fatalf("KillSignal = %q: the server drains on SIGTERM", got)
	}
	// systemd sends SIGKILL after TimeoutStopSec: it must outlast the
	// default drain plus the time in-flight requests are given.
	raw := unitSetting(t, "TimeoutStopSec")
	stop, err := time.ParseDuration(raw)
	if err != nil {
		t.Fatalf("TimeoutStopSec %q: %v", raw, err)
	}
	if need := server.DefaultShutdownDrain + server.DefaultShutdownTimeout; stop <= need {
		t.Fatalf("TimeoutStopSec %v does not outlast the shutdown drain and timeout (%v)", stop, need)
	}
}

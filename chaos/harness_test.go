package chaos

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/authgraph/authgraph/internal/testenv"
)

const (
	adminID     = "chaos-admin"
	adminSecret = "chaos-admin-secret-0123456789abcdef"
	// nodeHeader names the node that answered, set by the proxy.
	nodeHeader = "X-Chaos-Node"
)

// node is one `authgraph serve` process.
type node struct {
	name, addr string
	env        []string
	logPath    string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// cluster is the system under test: nodes sharing one Postgres, and the
// proxy in front of them whose URL is the issuer.
type cluster struct {
	pg    *testenv.Cluster
	dbURL string
	nodes []*node
	proxy *proxy
}

// startCluster creates a database on pg, migrates it with the CLI, and
// starts n nodes and the proxy.
func startCluster(t *testing.T, pg *testenv.Cluster, n int) *cluster {
	t.Helper()
	u, _ := url.Parse(pg.URL())
	u.Path = "/authgraph"
	c := &cluster{pg: pg, dbURL: u.String()}
	admin := openDB(t, pg.URL())
	if _, err := admin.Exec("CREATE DATABASE authgraph"); err != nil {
		t.Fatal(err)
	}
	admin.Close()

	key := make([]byte, 32)
	rand.Read(key)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String() + "/"
	dir := t.TempDir()
	env := append(os.Environ(),
		"AUTHGRAPH_DATABASE_URL="+c.dbURL,
		"AUTHGRAPH_MASTER_KEY="+base64.StdEncoding.EncodeToString(key),
		"AUTHGRAPH_ADMIN_CLIENT_ID="+adminID,
		"AUTHGRAPH_ADMIN_CLIENT_SECRET="+adminSecret,
		"AUTHGRAPH_ISSUER="+issuer,
		"AUTHGRAPH_LOG_FORMAT=text",
		"AUTHGRAPH_API_RATE_LIMIT=off",
		"AUTHGRAPH_TRUSTED_PROXIES=127.0.0.1",
		"AUTHGRAPH_RULES_CACHE_DIR="+testenv.RulesCacheDir(),
	)
	migrate := exec.Command(authgraphBin, "migrate")
	migrate.Env = env
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("authgraph migrate: %v\n%s", err, out)
	}
	for i := range n {
		c.nodes = append(c.nodes, &node{
			name: "node" + strconv.Itoa(i+1), addr: "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)),
			env: env, logPath: filepath.Join(dir, "node"+strconv.Itoa(i+1)+".log"),
		})
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			nd.kill()
		}
	})
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, nd := range c.nodes {
		wg.Go(func() { errs[i] = nd.start() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.nodes[i].name, err, c.nodes[i].logTail(3000))
		}
	}
	c.proxy = newProxy(ln, c.nodes)
	t.Cleanup(c.proxy.close)
	return c
}

// start runs the node and waits until it answers /healthz.
func (nd *node) start() error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	logFile, err := os.OpenFile(nd.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "---- %s start %s\n", nd.name, time.Now().Format(time.StampMilli))
	cmd := exec.Command(authgraphBin, "serve", "--listen", nd.addr)
	cmd.Env = nd.env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = nodeProcAttr()
	started, exited := make(chan error, 1), make(chan struct{})
	go func() {
		// The parent-death signal follows the forking thread: keep it alive
		// as long as the node, so an aborted test leaves no node behind.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return err
	}
	nd.cmd, nd.exited = cmd, exited
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + nd.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("exited during startup")
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("not healthy after 60s")
}

// kill sends SIGKILL and waits until the process is gone (its sockets
// closed). It is a no-op on a node that is not running.
func (nd *node) kill() {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil {
		return
	}
	nd.cmd.Process.Kill()
	<-nd.exited
	nd.cmd, nd.exited = nil, nil
}

func (nd *node) logTail(n int) string {
	b, _ := os.ReadFile(nd.logPath)
	return string(b[max(0, len(b)-n):])
}

// proxy is a round-robin load balancer over the healthy nodes, as a real
// one is configured in front of Authgraph: passive health checking (a node
// whose connection fails is taken out at once) plus an active check that
// takes it back when /healthz answers again.
//
// A request whose connection to a node could not be established is sent to
// the next node, whatever its method: nothing reached the node, so nothing
// can have happened twice. That is what load balancers do by default
// (nginx's proxy_next_upstream error, HAProxy's retry-on conn-failure with
// option redispatch, Envoy's connect-failure retry policy). A request that
// failed after its connection was made is never retried: it may have been
// processed, and the client sees 502.
type proxy struct {
	srv   *http.Server
	nodes []*node
	tr    *http.Transport

	mu     sync.Mutex
	next   int
	down   map[string]time.Time // node name → when it was taken out
	events []proxyEvent
	stop   chan struct{}
	wg     sync.WaitGroup
}

// proxyEvent is a node taken out of (down) or back into rotation.
type proxyEvent struct {
	at   time.Time
	node string
	down bool
	why  string
}

type attemptKey struct{}

// attempt carries, from the transport to the error handler, the node a
// request last went to.
type attempt struct{ node string }

func newProxy(ln net.Listener, nodes []*node) *proxy {
	p := &proxy{nodes: nodes, down: map[string]time.Time{}, stop: make(chan struct{}),
		tr: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 64,
		}}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "upstream" // the transport picks the node
			pr.Out.Host = pr.In.Host                                // the issuer's host
			pr.SetXForwarded()
		},
		Transport: p,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if a, _ := r.Context().Value(attemptKey{}).(*attempt); a != nil {
				w.Header().Set(nodeHeader, a.node)
			}
			w.Header().Set("X-Chaos-Proxy-Error", err.Error())
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), attemptKey{}, &attempt{})))
	})}
	go p.srv.Serve(ln)
	p.wg.Go(p.healthLoop)
	return p
}

func (p *proxy) close() {
	close(p.stop)
	p.wg.Wait()
	p.srv.Close()
	p.tr.CloseIdleConnections()
}

// pick returns the next healthy node after those in tried.
func (p *proxy) pick(tried map[string]bool) *node {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range p.nodes {
		nd := p.nodes[p.next%len(p.nodes)]
		p.next++
		if _, down := p.down[nd.name]; !down && !tried[nd.name] {
			return nd
		}
	}
	return nil
}

func (p *proxy) setDown(nd *node, why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.down[nd.name]; !ok {
		now := time.Now()
		p.down[nd.name] = now
		p.events = append(p.events, proxyEvent{at: now, node: nd.name, down: true, why: why})
	}
}

// downSince returns when the proxy last took name out, if it is out.
func (p *proxy) downSince(name string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	at, ok := p.down[name]
	return at, ok
}

func (p *proxy) eventLog() []proxyEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]proxyEvent(nil), p.events...)
}

// RoundTrip sends req to a healthy node, moving on to the next one when
// the connection cannot be made (see proxy).
func (p *proxy) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
	}
	a, _ := req.Context().Value(attemptKey{}).(*attempt)
	tried := map[string]bool{}
	var lastErr error = errors.New("no healthy node")
	for {
		nd := p.pick(tried)
		if nd == nil {
			return nil, lastErr
		}
		tried[nd.name] = true
		if a != nil {
			a.node = nd.name
		}
		out := req.Clone(req.Context())
		out.URL.Host = nd.addr
		if body != nil {
			out.Body = io.NopCloser(bytes.NewReader(body))
			out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		resp, err := p.tr.RoundTrip(out)
		if err == nil {
			resp.Header.Set(nodeHeader, nd.name)
			return resp, nil
		}
		lastErr = err
		p.setDown(nd, err.Error())
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "dial" {
			return nil, fmt.Errorf("%s: %w", nd.name, err)
		}
	}
}

// healthLoop puts nodes that were taken out back into rotation once their
// /healthz answers.
func (p *proxy) healthLoop() {
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		for _, nd := range p.nodes {
			if _, down := p.downSince(nd.name); !down {
				continue
			}
			resp, err := client.Get("http://" + nd.addr + "/healthz")
			if err != nil {
				continue
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.mu.Lock()
				delete(p.down, nd.name)
				p.events = append(p.events, proxyEvent{at: time.Now(), node: nd.name, why: "healthz ok"})
				p.mu.Unlock()
			}
		}
	}
}

package deploy

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/storybot/storybot/internal/auth"
	"github.com/storybot/storybot/internal/database/dbtest"
	"github.com/storybot/storybot/internal/telemetry/ecstest"
)

// TestStack runs the stack of compose.yaml on this machine, without
// containers: two storybot replicas built from this repository, with the
// compose file's settings, on one fresh Postgres database; the committed
// nginx configuration in front of them with a self-signed certificate; a
// Prometheus with the committed scrape configuration and alert rules; and a
// stand-in for Logstash's tcp input. Then it goes through nginx over TLS
// the way clients do, and checks what nginx, the logs and Prometheus make
// of it.
func TestStack(t *testing.T) {
	goBin := need(t, "go", "golang-go")
	nginxBin := need(t, "nginx", "nginx")
	openssl := need(t, "openssl", "openssl")
	prometheusBin := need(t, "prometheus", "prometheus")
	promtool := need(t, "promtool", "prometheus")
	dir := t.TempDir()
	// The direct requests to the replicas and Prometheus use the default
	// client; its connections go before the leak check.
	t.Cleanup(http.DefaultClient.CloseIdleConnections)

	// Built as `make build` does, so that the build cache of the rest of
	// `make test` serves it.
	bin := filepath.Join(dir, "storybot")
	if out, err := run(t, repoRoot(t), os.Environ(), goBin, "build", "-o", bin, "."); err != nil {
		t.Fatalf("building storybot: %v\n%s", err, out)
	}

	dbURL := createDatabase(t)
	logs := startFakeLogstash(t)
	replicas := startReplicas(t, dir, bin, dbURL, logs.addr())
	ng := startNginx(t, dir, nginxBin, openssl, replicas)
	prom := startPrometheus(t, dir, prometheusBin, promtool, replicas)

	c := ng.client(t, nil)
	ng.token = signUp(t, c, ng)
	traffic := &trafficLog{}
	t.Run("nginx", func(t *testing.T) { testNginx(t, ng, c, traffic) })
	t.Run("logs", func(t *testing.T) { testLogs(t, logs, ng, replicas, traffic) })
	t.Run("prometheus", func(t *testing.T) { testPrometheus(t, prom, replicas, traffic) })
	t.Run("failover", func(t *testing.T) { testFailover(t, ng, c, prom, replicas) })
}

// trafficLog is what the nginx subtests did, for the later subtests to
// look for in the logs and the metrics.
type trafficLog struct {
	queryTraceID      string // X-Trace-Id sent with a query
	storyTraceID      string // X-Trace-Id sent with generateStory
	storyID           string // the story it started
	connectionTraceID string // trace ID of a websocket connection
	storiesCompleted  int
}

// createDatabase creates an empty Postgres database for the replicas to
// migrate, and drops it when t ends.
func createDatabase(t *testing.T) string {
	t.Helper()
	server := dbtest.ServerURL()
	admin, err := sql.Open("postgres", server)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		unavailable(t, "Postgres is not reachable (set STORYBOT_TEST_DATABASE_URL): %v", err)
	}
	name := "storybot_deploy_" + randomHex(6)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("dropping %s: %v", name, err)
		}
		admin.Close()
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// fakeLogstash stands in for the Logstash tcp input with the json_lines
// codec: it keeps every line it receives.
type fakeLogstash struct {
	ln net.Listener
	wg sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]bool
	lines []map[string]any
	bad   []string
}

func startFakeLogstash(t *testing.T) *fakeLogstash {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeLogstash{ln: ln, conns: map[net.Conn]bool{}}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns[conn] = true
			f.mu.Unlock()
			f.wg.Add(1)
			go f.read(conn)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		for conn := range f.conns {
			conn.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

func (f *fakeLogstash) addr() string { return f.ln.Addr().String() }

func (f *fakeLogstash) read(conn net.Conn) {
	defer f.wg.Done()
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		err := json.Unmarshal(sc.Bytes(), &line)
		f.mu.Lock()
		if err != nil {
			f.bad = append(f.bad, sc.Text())
		} else {
			f.lines = append(f.lines, line)
		}
		f.mu.Unlock()
	}
}

// find returns the lines for which match holds.
func (f *fakeLogstash) find(match func(map[string]any) bool) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for _, l := range f.lines {
		if match(l) {
			out = append(out, l)
		}
	}
	return out
}

// replica is one running storybot.
type replica struct {
	name        string // the compose service it stands for
	addr        string // STORYBOT_ADDR
	metricsAddr string // STORYBOT_METRICS_ADDR
	proc        *process
}

// startReplicas starts one storybot per replica of compose.yaml, with the
// compose file's environment; only the addresses differ. They start
// together, so both migrate the empty database at once (one waits for the
// other's lock).
func startReplicas(t *testing.T, dir, bin, dbURL, logstashAddr string) []*replica {
	t.Helper()
	compose := loadCompose(t)
	var replicas []*replica
	for _, name := range storybotReplicas {
		r := &replica{
			name:        name,
			addr:        fmt.Sprintf("127.0.0.1:%d", freePort(t)),
			metricsAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		}
		env := compose.env(t, name)
		env["STORYBOT_ADDR"] = r.addr
		env["STORYBOT_METRICS_ADDR"] = r.metricsAddr
		env["DATABASE_URL"] = dbURL
		env["LOGSTASH_ADDR"] = logstashAddr
		// Quicker stories than the default 25 tokens a second, still slow
		// enough to tell a stream from a buffered response.
		env["STORYTELLER_TOKENS_PER_SECOND"] = "40"
		var list []string
		for k, v := range env {
			list = append(list, k+"="+v)
		}
		r.proc = start(t, dir, name, list, bin)
		replicas = append(replicas, r)
	}
	for _, r := range replicas {
		waitFor(t, 60*time.Second, r.name+" ready", func() error {
			if r.proc.exited() {
				t.Fatalf("%s exited: %v\n%s", r.name, r.proc.err, tail(readFile(t, r.proc.log), 30))
			}
			resp, err := http.Get("http://" + r.addr + "/readyz")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return errors.New(resp.Status)
			}
			return nil
		})
	}
	return replicas
}

// nginxServer is the running nginx.
type nginxServer struct {
	httpPort, httpsPort int
	accessLog           string
	webroot             string
	roots               *x509.CertPool
	// token is the API token of the stack's first account, which the
	// test's GraphQL requests carry through nginx (see signUp); "" for
	// none.
	token string
}

// startNginx renders the committed template as the nginx image does (the
// domain is localhost), changes only what differs on this machine (ports,
// replica addresses, certificate and log paths), checks it with nginx -t
// and starts nginx.
func startNginx(t *testing.T, dir, nginxBin, openssl string, replicas []*replica) *nginxServer {
	t.Helper()
	n := &nginxServer{
		httpPort:  freePort(t),
		httpsPort: freePort(t),
		accessLog: filepath.Join(dir, "nginx-access.log"),
		webroot:   filepath.Join(dir, "certbot"),
	}
	const domain = "localhost"

	// A self-signed certificate where Let's Encrypt puts its files.
	live := filepath.Join(dir, "letsencrypt", "live", domain)
	if err := os.MkdirAll(live, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, dir, os.Environ(), openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
		"-nodes", "-days", "2", "-subj", "/CN="+domain, "-addext", "subjectAltName=DNS:"+domain+",IP:127.0.0.1",
		"-keyout", filepath.Join(live, "privkey.pem"), "-out", filepath.Join(live, "fullchain.pem")); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	n.roots = x509.NewCertPool()
	if !n.roots.AppendCertsFromPEM([]byte(readFile(t, filepath.Join(live, "fullchain.pem")))) {
		t.Fatal("openssl wrote no certificate")
	}
	if err := os.MkdirAll(filepath.Join(n.webroot, ".well-known", "acme-challenge"), 0o755); err != nil {
		t.Fatal(err)
	}

	tmpl := readFile(t, "nginx/templates/storybot.conf.template")
	conf := strings.ReplaceAll(tmpl, "${STORYBOT_DOMAIN}", domain)
	if strings.Contains(conf, "${") {
		t.Fatalf("the template uses variables other than STORYBOT_DOMAIN: %s", regexp.MustCompile(`\$\{[^}]*\}`).FindString(conf))
	}
	for i, upstream := range nginxUpstreams(t, tmpl) {
		conf = replaceOnce(t, conf, "server "+upstream+" ", "server "+replicas[i].addr+" ", 1)
	}
	conf = replaceOnce(t, conf, "listen 80", fmt.Sprintf("listen 127.0.0.1:%d", n.httpPort), 2)
	conf = replaceOnce(t, conf, "listen 443 ssl", fmt.Sprintf("listen 127.0.0.1:%d ssl", n.httpsPort), 2)
	conf = replaceOnce(t, conf, "/etc/letsencrypt/", filepath.Join(dir, "letsencrypt")+"/", 2)
	conf = replaceOnce(t, conf, "/var/www/certbot", n.webroot, 1)
	conf = replaceOnce(t, conf, "/var/log/nginx/access.log", n.accessLog, 2)
	site := filepath.Join(dir, "nginx-storybot.conf")
	if err := os.WriteFile(site, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	// The main configuration, as the nginx image's /etc/nginx/nginx.conf
	// with the template's output in its http block; plus gzip for JSON and
	// event streams, as a site-wide setting might have it: with gzip's
	// buffering, /graphql must still stream.
	user := ""
	if os.Geteuid() == 0 {
		// The workers must read the test's private temporary directory.
		user = "user root;"
	}
	mime := ""
	if _, err := os.Stat("/etc/nginx/mime.types"); err == nil {
		mime = "include /etc/nginx/mime.types;"
	}
	tmp := filepath.Join(dir, "nginx-tmp")
	main := fmt.Sprintf(`%s
worker_processes 2;
daemon off;
pid %[2]s/nginx.pid;
error_log %[2]s/nginx-error.log notice;
events { worker_connections 512; }
http {
    %[3]s
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 65;
    gzip on;
    gzip_types text/event-stream application/json;
    client_body_temp_path %[4]s/client;
    proxy_temp_path %[4]s/proxy;
    fastcgi_temp_path %[4]s/fastcgi;
    uwsgi_temp_path %[4]s/uwsgi;
    scgi_temp_path %[4]s/scgi;
    include %[5]s;
}
`, user, dir, mime, tmp, site)
	mainConf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(mainConf, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	errLog := filepath.Join(dir, "nginx-error.log")
	if out, err := run(t, dir, os.Environ(), nginxBin, "-t", "-p", dir, "-c", mainConf, "-e", errLog); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	proc := start(t, dir, "nginx", os.Environ(), nginxBin, "-p", dir, "-c", mainConf, "-e", errLog)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- end of nginx's error log:\n%s", tail(readFile(t, errLog), 30))
		}
	})
	waitFor(t, 10*time.Second, "nginx listening", func() error {
		if proc.exited() {
			t.Fatalf("nginx exited: %v\n%s", proc.err, tail(readFile(t, errLog), 30))
		}
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", n.httpsPort))
		if err == nil {
			conn.Close()
		}
		return err
	})
	return n
}

// dial connects to nginx whatever host name a URL names: localhost, the
// site's name, or another name to see nginx refuse it.
func (n *nginxServer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", port))
}

// client returns an HTTP client that trusts the test's certificate, speaks
// HTTP/2 where nginx offers it, and does not follow redirects.
func (n *nginxServer) client(t *testing.T, tlsConfig *tls.Config) *http.Client {
	if tlsConfig == nil {
		tlsConfig = &tls.Config{RootCAs: n.roots}
	}
	tr := &http.Transport{DialContext: n.dial, TLSClientConfig: tlsConfig, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (n *nginxServer) httpsURL(path string) string {
	return fmt.Sprintf("https://localhost:%d%s", n.httpsPort, path)
}

// gqlResponse is a GraphQL response.
type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	Extensions map[string]any `json:"extensions"`
}

// graphql posts one operation through nginx, with n's API token unless
// header carries credentials of its own.
func graphql(t *testing.T, c *http.Client, n *nginxServer, header http.Header, query string, vars map[string]any) (*http.Response, gqlResponse) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, n.httpsURL("/graphql"), strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	if req.Header.Get("Authorization") == "" && req.Header.Get("Cookie") == "" {
		n.authorize(req.Header)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST /graphql: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var r gqlResponse
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("POST /graphql: %v: %s", err, raw)
		}
	}
	return resp, r
}

// mustData runs an operation that must succeed and decodes its data.
func mustData(t *testing.T, c *http.Client, n *nginxServer, header http.Header, query string, vars map[string]any, out any) *http.Response {
	t.Helper()
	resp, r := graphql(t, c, n, header, query, vars)
	if resp.StatusCode != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("%s: status %s, errors %v", query, resp.Status, r.Errors)
	}
	if err := json.Unmarshal(r.Data, out); err != nil {
		t.Fatal(err)
	}
	return resp
}

// authorize adds n's API token to a request's header, if n has one.
func (n *nginxServer) authorize(h http.Header) {
	if n.token != "" {
		h.Set("Authorization", "Bearer "+n.token)
	}
}

// anonymous returns n without an API token, for requests that carry no
// credentials.
func (n *nginxServer) anonymous() *nginxServer {
	anon := *n
	anon.token = ""
	return &anon
}

// firstAccount is the stack's first account: on an empty database it
// becomes the admin, whatever STORYBOT_SIGNUP says.
const firstAccount = "first@example.com"

// signUp signs the first account up through nginx as a visitor does (the
// session cookie comes back through the proxy), then creates an API token
// with that cookie, and returns the token.
func signUp(t *testing.T, c *http.Client, n *nginxServer) string {
	t.Helper()
	anon := n.anonymous()
	var u struct{ SignUp struct{ Email, Role string } }
	resp := mustData(t, c, anon, nil, `mutation($in: SignUpInput!) { signUp(input: $in) { email role } }`,
		map[string]any{"in": map[string]any{"email": firstAccount, "password": "correct horse battery staple"}}, &u)
	if u.SignUp.Email != firstAccount || u.SignUp.Role != "ADMIN" {
		t.Errorf("the first account signed up as %+v, want %s as ADMIN", u.SignUp, firstAccount)
	}
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == auth.SessionCookie && ck.Value != "" {
			session = ck
		}
	}
	if session == nil {
		t.Fatalf("signUp through nginx set no session cookie: Set-Cookie %q", resp.Header.Values("Set-Cookie"))
	}
	cookie := http.Header{"Cookie": {(&http.Cookie{Name: session.Name, Value: session.Value}).String()}}
	var tok struct{ CreateAPIToken struct{ Token string } }
	mustData(t, c, anon, cookie, `mutation { createApiToken(input: {name: "deploy stack test"}) { token } }`, nil, &tok)
	if tok.CreateAPIToken.Token == "" {
		t.Fatal("createApiToken returned no token")
	}
	return tok.CreateAPIToken.Token
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

const (
	createPrompt  = `mutation($content: String!) { createPrompt(input: {content: $content}) { id content } }`
	generateStory = `mutation($id: ID!, $max: Int) { generateStory(input: {promptID: $id, maxTokens: $max}) { id status traceID } }`
	storyByID     = `query($id: ID!) { node(id: $id) { ... on Story { status text tokenCount traceID } } }`
	streamStory   = `subscription($id: ID!) { storyStream(storyID: $id) { storyID seq delta status tokenCount error } }`
)

// storyEvent is one event of storyStream.
type storyEvent struct {
	StoryID    string  `json:"storyID"`
	Seq        int     `json:"seq"`
	Delta      string  `json:"delta"`
	Status     string  `json:"status"`
	TokenCount int     `json:"tokenCount"`
	Error      *string `json:"error"`
}

// startStory creates a prompt and starts a story of at most max tokens.
func startStory(t *testing.T, c *http.Client, n *nginxServer, header http.Header, max int) (id, traceID string) {
	t.Helper()
	var p struct{ CreatePrompt struct{ ID string } }
	mustData(t, c, n, nil, createPrompt, map[string]any{"content": "A lighthouse keeper who collects lost letters"}, &p)
	var s struct {
		GenerateStory struct{ ID, Status, TraceID string }
	}
	mustData(t, c, n, header, generateStory, map[string]any{"id": p.CreatePrompt.ID, "max": max}, &s)
	return s.GenerateStory.ID, s.GenerateStory.TraceID
}

// storedStory reads a story back through nginx.
func storedStory(t *testing.T, c *http.Client, n *nginxServer, id string) (status, text string) {
	t.Helper()
	var s struct {
		Node struct{ Status, Text string }
	}
	mustData(t, c, n, nil, storyByID, map[string]any{"id": id}, &s)
	return s.Node.Status, s.Node.Text
}

// wsMessage is a graphql-transport-ws message.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// dialWS opens a graphql-transport-ws connection through nginx with the
// given Origin and n's API token in the handshake, and returns it with the
// handshake's response.
func dialWS(t *testing.T, n *nginxServer, origin string) (*gws.Conn, *http.Response, error) {
	t.Helper()
	d := gws.Dialer{
		NetDialContext:   n.dial,
		TLSClientConfig:  &tls.Config{RootCAs: n.roots},
		Subprotocols:     []string{"graphql-transport-ws"},
		HandshakeTimeout: 5 * time.Second,
	}
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	n.authorize(h)
	conn, resp, err := d.Dial(fmt.Sprintf("wss://localhost:%d/graphql", n.httpsPort), h)
	if resp != nil {
		resp.Body.Close()
	}
	if conn != nil {
		t.Cleanup(func() { conn.Close() })
	}
	return conn, resp, err
}

func readWS(conn *gws.Conn) (wsMessage, error) {
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	var m wsMessage
	if err := conn.ReadJSON(&m); err != nil {
		return m, fmt.Errorf("reading from the websocket: %w", err)
	}
	return m, nil
}

// followWS subscribes to a story on an acknowledged connection and
// returns its events once the server completes the subscription. It runs
// on a goroutine of its own, so it returns errors rather than failing t.
func followWS(conn *gws.Conn, storyID string) ([]storyEvent, error) {
	payload, _ := json.Marshal(map[string]any{"query": streamStory, "variables": map[string]any{"id": storyID}})
	if err := conn.WriteJSON(wsMessage{ID: "1", Type: "subscribe", Payload: payload}); err != nil {
		return nil, err
	}
	var events []storyEvent
	for {
		m, err := readWS(conn)
		if err != nil {
			return events, err
		}
		switch m.Type {
		case "ping":
			if err := conn.WriteJSON(wsMessage{Type: "pong"}); err != nil {
				return events, err
			}
		case "pong":
		case "next":
			var p struct {
				Data struct{ StoryStream storyEvent } `json:"data"`
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil {
				return events, err
			}
			events = append(events, p.Data.StoryStream)
		case "complete":
			return events, nil
		default:
			return events, fmt.Errorf("unexpected %s: %s", m.Type, m.Payload)
		}
	}
}

func text(events []storyEvent) string {
	var b strings.Builder
	for _, e := range events {
		b.WriteString(e.Delta)
	}
	return b.String()
}

// testNginx goes through nginx as clients do.
func testNginx(t *testing.T, n *nginxServer, c *http.Client, traffic *trafficLog) {
	t.Run("HTTP redirects to HTTPS and serves ACME challenges", func(t *testing.T) {
		resp, err := c.Get(fmt.Sprintf("http://localhost:%d/graphql?query=%%7B__typename%%7D", n.httpPort))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "https://localhost/graphql?query=%7B__typename%7D" {
			t.Errorf("got %s to %q, want 301 to https://localhost/graphql?query=%%7B__typename%%7D", resp.Status, resp.Header.Get("Location"))
		}

		token := randomHex(16)
		if err := os.WriteFile(filepath.Join(n.webroot, ".well-known", "acme-challenge", token), []byte(token+".key"), 0o644); err != nil {
			t.Fatal(err)
		}
		resp, err = c.Get(fmt.Sprintf("http://localhost:%d/.well-known/acme-challenge/%s", n.httpPort, token))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != token+".key" {
			t.Errorf("ACME challenge: %s %q", resp.Status, body)
		}
	})

	t.Run("other host names get nothing", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://localhost:%d/", n.httpPort), nil)
		req.Host = "elsewhere.example"
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("HTTP for another name: %s, want the connection closed", resp.Status)
		}
		conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", n.httpsPort), &tls.Config{ServerName: "elsewhere.example", InsecureSkipVerify: true})
		if err == nil {
			conn.Close()
			t.Error("TLS for another name: handshake accepted, want it refused")
		}
	})

	t.Run("TLS 1.2 and 1.3 only", func(t *testing.T) {
		addr := fmt.Sprintf("127.0.0.1:%d", n.httpsPort)
		for _, tt := range []struct {
			name     string
			min, max uint16
			ok       bool
		}{
			{"TLS 1.3", tls.VersionTLS13, tls.VersionTLS13, true},
			{"TLS 1.2", tls.VersionTLS12, tls.VersionTLS12, true},
			{"TLS 1.1", tls.VersionTLS10, tls.VersionTLS11, false},
		} {
			conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "localhost", RootCAs: n.roots, MinVersion: tt.min, MaxVersion: tt.max})
			if err == nil {
				if v := conn.ConnectionState().Version; v != tt.max {
					t.Errorf("%s: negotiated %s", tt.name, tls.VersionName(v))
				}
				conn.Close()
			}
			if (err == nil) != tt.ok {
				t.Errorf("%s: handshake error %v, want success %v", tt.name, err, tt.ok)
			}
		}
	})

	t.Run("credentials pass through nginx", func(t *testing.T) {
		// The API token names its account on whichever replica answers.
		var v struct{ Viewer *struct{ Email string } }
		mustData(t, c, n, nil, `{ viewer { email } }`, nil, &v)
		if v.Viewer == nil || v.Viewer.Email != firstAccount {
			t.Errorf("viewer with the API token: %+v, want %s", v.Viewer, firstAccount)
		}
		// Without credentials, fields that need an account are refused.
		_, r := graphql(t, c, n.anonymous(), nil, `{ prompts(first: 1) { totalCount } }`, nil)
		if len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "UNAUTHENTICATED" {
			t.Errorf("prompts without credentials: errors %v, want UNAUTHENTICATED", r.Errors)
		}
		// A token shaped like an API token but unknown gets 401, with a
		// trace ID.
		resp, _ := graphql(t, c, n, http.Header{"Authorization": {"Bearer sbt_" + strings.Repeat("A", 43)}}, `{ viewer { email } }`, nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") || !hex32.MatchString(resp.Header.Get("X-Trace-Id")) {
			t.Errorf("an unknown API token: %s, WWW-Authenticate %q, X-Trace-Id %q; want 401 with a Bearer challenge and a trace ID",
				resp.Status, resp.Header.Get("WWW-Authenticate"), resp.Header.Get("X-Trace-Id"))
		}
	})

	t.Run("query with a trace ID", func(t *testing.T) {
		traffic.queryTraceID = "deploy-query-" + randomHex(8)
		var d struct{ Prompts struct{ TotalCount int } }
		resp := mustData(t, c, n, http.Header{"X-Trace-Id": {traffic.queryTraceID}}, `query Count { prompts(first: 1) { totalCount } }`, nil, &d)
		if resp.ProtoMajor != 2 {
			t.Errorf("answered over %s, want HTTP/2", resp.Proto)
		}
		if got := resp.Header.Values("X-Trace-Id"); len(got) != 1 || got[0] != traffic.queryTraceID {
			t.Errorf("X-Trace-Id %q, want exactly %q back", got, traffic.queryTraceID)
		}
		if !strings.HasPrefix(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
			t.Errorf("no HSTS header: %v", resp.Header)
		}

		// Without one, nginx names the request and storybot takes that name.
		resp, r := graphql(t, c, n, nil, `{ prompts(first: 1) { totalCount } }`, nil)
		id := resp.Header.Get("X-Trace-Id")
		if !hex32.MatchString(id) || r.Extensions["traceId"] != id {
			t.Errorf("X-Trace-Id %q, extensions.traceId %v: want nginx's request ID in both", id, r.Extensions["traceId"])
		}

		// A W3C traceparent carries its trace-id through.
		traceparent := "00-" + randomHex(16) + "-" + randomHex(8) + "-01"
		resp, r = graphql(t, c, n, http.Header{"Traceparent": {traceparent}}, `{ prompts(first: 1) { totalCount } }`, nil)
		if want := traceparent[3:35]; resp.Header.Get("X-Trace-Id") != want || r.Extensions["traceId"] != want {
			t.Errorf("traceparent %s: X-Trace-Id %q, extensions.traceId %v; want %s", traceparent, resp.Header.Get("X-Trace-Id"), r.Extensions["traceId"], want)
		}

		// A GraphQL error, for the errors-by-code panel.
		_, r = graphql(t, c, n, nil, `mutation($id: ID!) { deletePrompt(id: $id) }`, map[string]any{"id": "pr_01J00000000000000000000000"})
		if len(r.Errors) == 0 {
			t.Error("deleting a prompt that does not exist succeeded")
		}
	})

	t.Run("subscriptions over graphql-transport-ws", func(t *testing.T) {
		// Two stories on two connections at once: least_conn puts the
		// connections on different replicas, and each story is written by
		// whichever replica took its mutation. The first connection sends
		// the API token in connection_init's payload, as browsers' clients
		// (Apollo's graphql-ws) do; the second in the handshake's
		// Authorization header, as other programs may.
		traffic.storyTraceID = "deploy-story-" + randomHex(8)
		var wg sync.WaitGroup
		results := make([][]storyEvent, 2)
		errs := make([]error, 2)
		ids := make([]string, 2)
		for i := range 2 {
			dialer, init := n, json.RawMessage(`{}`)
			if i == 0 {
				dialer = n.anonymous()
				init, _ = json.Marshal(map[string]string{"authorization": "Bearer " + n.token})
			}
			conn, resp, err := dialWS(t, dialer, "http://localhost:3000")
			if err != nil {
				t.Fatalf("websocket through nginx: %v (%v)", err, resp)
			}
			if conn.Subprotocol() != "graphql-transport-ws" {
				t.Fatalf("negotiated %q", conn.Subprotocol())
			}
			connID := resp.Header.Get("X-Trace-Id")
			if err := conn.WriteJSON(wsMessage{Type: "connection_init", Payload: init}); err != nil {
				t.Fatal(err)
			}
			ack, err := readWS(conn)
			if err != nil {
				t.Fatal(err)
			}
			var p struct{ TraceID string }
			json.Unmarshal(ack.Payload, &p)
			if ack.Type != "connection_ack" || p.TraceID == "" || p.TraceID != connID {
				t.Fatalf("got %s %s, want connection_ack with the upgrade's trace ID %q", ack.Type, ack.Payload, connID)
			}
			traffic.connectionTraceID = connID
			header := http.Header{}
			if i == 0 {
				header.Set("X-Trace-Id", traffic.storyTraceID)
			}
			id, traceID := startStory(t, c, n, header, 30)
			if i == 0 {
				traffic.storyID = id
				if traceID != traffic.storyTraceID {
					t.Errorf("the story records the trace ID %q, want the mutation's %q", traceID, traffic.storyTraceID)
				}
			}
			ids[i] = id
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = followWS(conn, id)
			}()
		}
		wg.Wait()
		for i, events := range results {
			if errs[i] != nil {
				t.Errorf("story %s: %v", ids[i], errs[i])
				continue
			}
			if len(events) == 0 || events[len(events)-1].Status != "COMPLETED" {
				t.Errorf("story %s: events %+v, want a stream ending COMPLETED", ids[i], events)
				continue
			}
			status, stored := storedStory(t, c, n, ids[i])
			if status != "COMPLETED" || stored != text(events) || stored == "" {
				t.Errorf("story %s: streamed %q, stored %s %q", ids[i], text(events), status, stored)
			}
			traffic.storiesCompleted++
		}
	})

	t.Run("server-sent events are not buffered", func(t *testing.T) {
		// 60 tokens at 40 a second: a stream of about a second and a half,
		// in many events. Buffered, they would arrive together at the end.
		id, _ := startStory(t, c, n, nil, 60)
		body, _ := json.Marshal(map[string]any{"query": streamStory, "variables": map[string]any{"id": id}})
		req, _ := http.NewRequest(http.MethodPost, n.httpsURL("/graphql"), strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		n.authorize(req.Header)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("SSE: %s %s", resp.Status, resp.Header.Get("Content-Type"))
		}
		var arrivals []time.Time
		var events []storyEvent
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		event := ""
	read:
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
				if event == "complete" {
					break read
				}
			case strings.HasPrefix(line, "data: ") && event == "next":
				var p struct {
					Data struct{ StoryStream storyEvent } `json:"data"`
				}
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &p); err != nil {
					t.Fatal(err)
				}
				events = append(events, p.Data.StoryStream)
				arrivals = append(arrivals, time.Now())
			}
		}
		if len(events) < 4 || events[len(events)-1].Status != "COMPLETED" {
			t.Fatalf("SSE: %d events ending %+v, want several ending COMPLETED", len(events), events)
		}
		if spread := arrivals[len(arrivals)-1].Sub(arrivals[0]); spread < 700*time.Millisecond {
			t.Errorf("the %d events arrived within %s of each other: nginx buffered the stream", len(events), spread)
		}
		if _, stored := storedStory(t, c, n, id); stored != text(events) {
			t.Errorf("streamed %q, stored %q", text(events), stored)
		}
		traffic.storiesCompleted++
	})

	t.Run("foreign origins are refused, allowed ones get CORS", func(t *testing.T) {
		resp, _ := graphql(t, c, n, http.Header{"Origin": {"https://elsewhere.example"}}, `{ __typename }`, nil)
		if resp.StatusCode != http.StatusForbidden || !hex32.MatchString(resp.Header.Get("X-Trace-Id")) {
			t.Errorf("POST from a foreign origin: %s, X-Trace-Id %q; want 403 with a trace ID", resp.Status, resp.Header.Get("X-Trace-Id"))
		}
		if _, resp, err := dialWS(t, n, "https://elsewhere.example"); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("websocket from a foreign origin: %v, %v; want 403", err, resp)
		}
		resp, _ = graphql(t, c, n, http.Header{"Origin": {"http://localhost:3000"}}, `{ __typename }`, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" {
			t.Errorf("POST from the dev server: %s, Access-Control-Allow-Origin %q", resp.Status, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	})

	t.Run("metrics stay private, health checks answer", func(t *testing.T) {
		for path, want := range map[string]int{"/metrics": http.StatusNotFound, "/healthz": http.StatusOK, "/readyz": http.StatusOK} {
			resp, err := c.Get(n.httpsURL(path))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("GET %s: %s, want %d", path, resp.Status, want)
			}
		}
	})
}

// accessLogLine is a line of nginx's JSON access log.
type accessLogLine struct {
	TraceID  string `json:"trace.id"`
	Path     string `json:"url.path"`
	Status   int    `json:"http.response.status_code"`
	Upstream string `json:"nginx.upstream.addr"`
}

// testLogs checks that one trace ID finds a request in nginx's log and in
// storybot's lines as Logstash receives them, and that the fields the
// Kibana searches use are ones storybot writes.
func testLogs(t *testing.T, logs *fakeLogstash, n *nginxServer, replicas []*replica, traffic *trafficLog) {
	if traffic.queryTraceID == "" || traffic.storyID == "" {
		t.Fatal("the nginx subtests failed before they made the traffic this test looks up")
	}
	// nginx's access log: JSON, with the trace ID, spread over both replicas.
	upstreams := map[string]int{}
	var found bool
	for _, l := range lines(readFile(t, n.accessLog)) {
		var a accessLogLine
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("access log line is not JSON: %v: %s", err, l)
		}
		if a.TraceID == "" {
			t.Errorf("access log line without a trace ID: %s", l)
		}
		if a.TraceID == traffic.queryTraceID && a.Path == "/graphql" && a.Status == http.StatusOK {
			found = true
		}
		for _, u := range strings.Split(a.Upstream, ", ") {
			upstreams[u]++
		}
	}
	if !found {
		t.Errorf("nginx's access log has no line with trace.id %s", traffic.queryTraceID)
	}
	for _, r := range replicas {
		if upstreams[r.addr] == 0 {
			t.Errorf("nginx sent nothing to %s (%s): %v", r.name, r.addr, upstreams)
		}
	}

	// storybot's lines reach the Logstash input, JSON on every line.
	waitFor(t, 10*time.Second, "the story's last log line at Logstash", func() error {
		if len(logs.find(func(l map[string]any) bool {
			return l["message"] == "story finished" && l["storybot.story.id"] == traffic.storyID
		})) == 0 {
			return errors.New("no line yet")
		}
		return nil
	})
	logs.mu.Lock()
	bad, all := len(logs.bad), len(logs.lines)
	logs.mu.Unlock()
	if bad > 0 {
		t.Errorf("%d of the lines sent to Logstash are not JSON objects", bad)
	}
	if all == 0 {
		t.Fatal("no lines reached Logstash")
	}
	for _, field := range []string{"@timestamp", "log.level", "message", "ecs.version", "service.name", "host.name"} {
		if n := len(logs.find(func(l map[string]any) bool { return l[field] == nil })); n > 0 {
			t.Errorf("%d lines lack %s", n, field)
		}
	}
	// Every key of every line is an ECS field or one of storybot's own.
	var received strings.Builder
	for _, l := range logs.find(func(map[string]any) bool { return true }) {
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		received.Write(b)
		received.WriteByte('\n')
	}
	for _, p := range ecstest.CheckOutput(received.String()) {
		t.Errorf("a line at Logstash: %s", p)
	}
	byTrace := func(id string) []map[string]any {
		return logs.find(func(l map[string]any) bool { return l["trace.id"] == id || l["storybot.connection.trace_id"] == id })
	}
	// The query's operation line.
	if got := byTrace(traffic.queryTraceID); len(got) == 0 || got[0]["message"] != "graphql operation" || got[0]["graphql.operation.name"] != "Count" {
		t.Errorf("lines with the query's trace ID %s: %v", traffic.queryTraceID, got)
	}
	// The mutation that started a story finds the story's own lines too.
	var messages []string
	for _, l := range byTrace(traffic.storyTraceID) {
		messages = append(messages, fmt.Sprint(l["message"]))
	}
	if m := missing(messages, "graphql operation", "story finished"); len(m) > 0 {
		t.Errorf("the story's trace ID %s finds %q, not %q", traffic.storyTraceID, messages, m)
	}
	// A websocket connection's ID finds the subscriptions run on it.
	subs := logs.find(func(l map[string]any) bool {
		return l["storybot.connection.trace_id"] == traffic.connectionTraceID && l["graphql.operation.type"] == "subscription"
	})
	if len(subs) == 0 {
		t.Errorf("no subscription line with storybot.connection.trace_id %s", traffic.connectionTraceID)
	}

	// Every field and message the Kibana searches use is one storybot
	// writes: seen in these lines, or logged somewhere in its source.
	seen := map[string]bool{}
	for _, line := range lines(received.String()) {
		keys, err := ecstest.Keys([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			seen[k] = true
		}
	}
	source := storybotSource(t)
	scan, err := ecstest.ScanSource(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	logged := map[string]bool{}
	for _, k := range scan.Keys {
		logged[k.Key] = true
	}
	_, searches := loadKibana(t)
	kqlField := regexp.MustCompile(`([A-Za-z_@][\w.@]*)\s*(?::|>=|<=|>|<)`)
	kqlMessage := regexp.MustCompile(`message\s*:\s*"([^"]+)"`)
	for _, s := range searches {
		var fields []string
		for _, m := range kqlField.FindAllStringSubmatch(s.query, -1) {
			fields = append(fields, m[1])
		}
		for _, f := range append(fields, s.columns...) {
			if !seen[f] && !logged[f] {
				t.Errorf("Kibana search %q uses %s, which storybot never logs", s.title, f)
			}
		}
		for _, m := range kqlMessage.FindAllStringSubmatch(s.query, -1) {
			if !strings.Contains(source, strconv.Quote(m[1])) {
				t.Errorf("Kibana search %q looks for the message %q, which storybot never logs", s.title, m[1])
			}
		}
	}
}

// storybotSource is the text of storybot's Go files, tests left out.
func storybotSource(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	root := repoRoot(t)
	for _, dir := range []string{".", "graph", "internal"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && dir == "." && path != root {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
				b.WriteString(readFile(t, path))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// prometheusServer is the running Prometheus.
type prometheusServer struct {
	url string
}

// startPrometheus runs Prometheus with the committed configuration and
// rules, changed only to scrape this test's replicas every second.
func startPrometheus(t *testing.T, dir, prometheusBin, promtool string, replicas []*replica) *prometheusServer {
	t.Helper()
	confDir := filepath.Join(dir, "prometheus")
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	conf := readFile(t, "prometheus/prometheus.yml")
	for _, r := range replicas {
		conf = replaceOnce(t, conf, r.name+":9100", r.metricsAddr, 1)
	}
	conf = replaceOnce(t, conf, "localhost:9090", addr, 1)
	// No Alertmanager here (TestAlertDelivery has one): a closed local port
	// instead of a host name that does not resolve.
	conf = replaceOnce(t, conf, "alertmanager:9093", fmt.Sprintf("127.0.0.1:%d", freePort(t)), 1)
	conf = replaceOnce(t, conf, "scrape_interval: 15s", "scrape_interval: 1s", 1)
	conf = replaceOnce(t, conf, "evaluation_interval: 15s", "evaluation_interval: 1s", 1)
	if err := os.WriteFile(filepath.Join(confDir, "prometheus.yml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(confDir, "alerts.yml"), []byte(readFile(t, "prometheus/alerts.yml")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, confDir, os.Environ(), promtool, "check", "config", "prometheus.yml"); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	proc := start(t, dir, "prometheus", os.Environ(), prometheusBin,
		"--config.file="+filepath.Join(confDir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "prometheus-data"),
		"--web.listen-address="+addr,
		"--enable-feature=exemplar-storage", // as compose.yaml runs it
		"--log.level=warn")
	p := &prometheusServer{url: "http://" + addr}
	waitFor(t, 30*time.Second, "Prometheus ready", func() error {
		if proc.exited() {
			t.Fatalf("prometheus exited: %v\n%s", proc.err, tail(readFile(t, proc.log), 30))
		}
		resp, err := http.Get(p.url + "/-/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	})
	return p
}

// promSample is one series of a query's result.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`
}

// query evaluates expr now through the HTTP API.
func (p *prometheusServer) query(expr string) ([]promSample, error) {
	resp, err := http.Get(p.url + "/api/v1/query?" + url.Values{"query": {expr}}.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", resp.Status, r.Error)
	}
	if r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("result type %s, want vector", r.Data.ResultType)
	}
	var samples []promSample
	err = json.Unmarshal(r.Data.Result, &samples)
	return samples, err
}

// get decodes the data of a GET of the HTTP API.
func (p *prometheusServer) get(path string, out any) error {
	resp, err := http.Get(p.url + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return err
	}
	if r.Status != "success" {
		return fmt.Errorf("GET %s: %s", path, r.Status)
	}
	return json.Unmarshal(r.Data, out)
}

// grafanaExpr turns a dashboard query into PromQL as Grafana sends it: every
// replica selected, one-minute rate windows, a five-minute range.
func grafanaExpr(t *testing.T, expr string) string {
	t.Helper()
	r := strings.NewReplacer(`$__rate_interval`, "1m", `$__range`, "5m", `$instance`, ".*")
	out := r.Replace(expr)
	if strings.Contains(out, "$") {
		t.Fatalf("the dashboard query %q uses a variable the test does not know", expr)
	}
	return out
}

var (
	promByClause    = regexp.MustCompile(`\bby\s*\(([^)]*)\)`)
	promLegendLabel = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)
	promMetricName  = regexp.MustCompile(`\b((?:graphql|http|storybot|go|process)_[a-z0-9_]+|up)\b`)
)

// testPrometheus checks the dashboard and the rules against what Prometheus
// scraped from the replicas after the nginx subtests' traffic.
func testPrometheus(t *testing.T, p *prometheusServer, replicas []*replica, traffic *trafficLog) {
	waitFor(t, 20*time.Second, "both replicas scraped", func() error {
		var targets struct {
			ActiveTargets []struct {
				Labels map[string]string `json:"labels"`
				Health string            `json:"health"`
			} `json:"activeTargets"`
		}
		if err := p.get("/api/v1/targets", &targets); err != nil {
			return err
		}
		up := 0
		for _, tg := range targets.ActiveTargets {
			if tg.Labels["job"] == "storybot" && tg.Health == "up" {
				up++
			}
		}
		if up != len(replicas) {
			return fmt.Errorf("%d of %d storybot targets up", up, len(replicas))
		}
		return nil
	})
	// Wait until a scrape has seen the last story end, and a few more for
	// the rates.
	waitFor(t, 20*time.Second, "the completed stories scraped", func() error {
		s, err := p.query(`sum(storybot_stories_finished_total{job="storybot", outcome="completed"})`)
		if err != nil {
			return err
		}
		if len(s) == 0 || fmt.Sprint(s[0].Value[1]) != strconv.Itoa(traffic.storiesCompleted) {
			return fmt.Errorf("%v, want %d", s, traffic.storiesCompleted)
		}
		return nil
	})
	time.Sleep(3 * time.Second)

	// Every metric the dashboard and the rules name is one storybot
	// exports (or up, which Prometheus adds). A labelled series appears
	// once it has a value, so ask every replica: the GraphQL error above
	// happened on one of them.
	exported := map[string]bool{}
	for _, r := range replicas {
		for name := range exportedMetrics(t, r) {
			exported[name] = true
		}
	}
	d := loadDashboard(t)
	rules := alertRules(t)
	var exprs []string
	for _, tg := range d.targets {
		exprs = append(exprs, tg.expr)
	}
	for _, r := range rules {
		exprs = append(exprs, r.expr)
	}
	for _, v := range getList(d.doc, "templating", "list") {
		exprs = append(exprs, getString(v, "definition"))
	}
	for _, expr := range exprs {
		for _, m := range promMetricName.FindAllString(expr, -1) {
			if m != "up" && !exported[m] {
				t.Errorf("%s is not a series storybot exports (in %s)", m, expr)
			}
		}
	}

	// Every dashboard query evaluates and returns series, with the labels
	// its legend and its grouping name.
	for _, tg := range d.targets {
		expr := grafanaExpr(t, tg.expr)
		samples, err := p.query(expr)
		if err != nil {
			t.Errorf("panel %q: %s: %v", tg.panel, expr, err)
			continue
		}
		if len(samples) == 0 {
			t.Errorf("panel %q: %s returned no series", tg.panel, expr)
			continue
		}
		var labels []string
		for _, m := range promByClause.FindAllStringSubmatch(expr, -1) {
			for _, l := range strings.Split(m[1], ",") {
				if l = strings.TrimSpace(l); l != "le" {
					labels = append(labels, l)
				}
			}
		}
		for _, m := range promLegendLabel.FindAllStringSubmatch(tg.legend, -1) {
			labels = append(labels, m[1])
		}
		for _, s := range samples {
			for _, l := range labels {
				if s.Metric[l] == "" {
					t.Errorf("panel %q: a series of %s has no %s: %v", tg.panel, expr, l, s.Metric)
				}
			}
		}
	}
	// The replica variable lists both replicas.
	if s, err := p.query(`up{job="storybot"}`); err != nil || len(s) != len(replicas) {
		t.Errorf("the instance variable's query: %v, %v", s, err)
	}

	// Prometheus evaluates every rule without error, and on this healthy
	// stack no alert expression holds.
	waitFor(t, 10*time.Second, "every rule evaluated", func() error {
		var data struct {
			Groups []struct {
				Rules []struct {
					Name      string `json:"name"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"rules"`
			} `json:"groups"`
		}
		if err := p.get("/api/v1/rules", &data); err != nil {
			return err
		}
		n := 0
		for _, g := range data.Groups {
			for _, r := range g.Rules {
				if r.Health != "ok" {
					return fmt.Errorf("rule %s: health %s %s", r.Name, r.Health, r.LastError)
				}
				n++
			}
		}
		if n != len(rules) {
			return fmt.Errorf("%d rules loaded, want %d", n, len(rules))
		}
		return nil
	})
	for _, r := range rules {
		samples, err := p.query(r.expr)
		if err != nil {
			t.Errorf("alert %s: %v", r.name, err)
		} else if len(samples) > 0 {
			t.Errorf("alert %s holds on a healthy stack: %v", r.name, samples)
		}
	}
}

// exportedMetrics returns the series names a replica's /metrics serves.
func exportedMetrics(t *testing.T, r *replica) map[string]bool {
	t.Helper()
	resp, err := http.Get("http://" + r.metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		names[name] = true
	}
	return names
}

// testFailover stops one replica: nginx keeps answering from the other and
// Prometheus sees the stopped one down.
func testFailover(t *testing.T, n *nginxServer, c *http.Client, p *prometheusServer, replicas []*replica) {
	down := replicas[len(replicas)-1]
	down.proc.stop(t)
	for range 6 {
		var d struct{ Prompts struct{ TotalCount int } }
		mustData(t, c, n, nil, `{ prompts(first: 1) { totalCount } }`, nil, &d)
	}
	var downExpr string
	for _, r := range alertRules(t) {
		if r.name == "StorybotReplicaDown" {
			downExpr = r.expr
		}
	}
	waitFor(t, 15*time.Second, "StorybotReplicaDown's expression naming the stopped replica", func() error {
		s, err := p.query(downExpr)
		if err != nil {
			return err
		}
		if len(s) != 1 || s[0].Metric["instance"] != down.metricsAddr {
			return fmt.Errorf("%v, want only %s", s, down.metricsAddr)
		}
		return nil
	})
}

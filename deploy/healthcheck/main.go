// Command healthcheck asks the storybot process of its own container whether
// it serves, for the image's HEALTHCHECK: the runtime image has no shell,
// curl or wget.
//
//	healthcheck [path]
//
// It sends GET http://127.0.0.1:<port><path> (path /healthz unless given),
// where the port is that of STORYBOT_ADDR (default :8080), and exits 0 on 200
// and 1 on anything else, saying why on stderr.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// timeout bounds the whole check; Docker's own --timeout should be longer.
const timeout = 2 * time.Second

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stderr))
}

// run performs the check and returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	path := "/healthz"
	switch {
	case len(args) > 1:
		fmt.Fprintln(stderr, "usage: healthcheck [path]")
		return 2
	case len(args) == 1:
		path = args[0]
	}
	if !strings.HasPrefix(path, "/") {
		fmt.Fprintf(stderr, "healthcheck: path %q must start with /\n", path)
		return 2
	}
	url, err := checkURL(getenv("STORYBOT_ADDR"), path)
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "healthcheck: %s answered %s: %s\n", url, resp.Status, strings.TrimSpace(string(body)))
		return 1
	}
	return 0
}

// checkURL is the URL of path on the listener that addr (STORYBOT_ADDR)
// describes. A listener on every interface is asked on the loopback one.
func checkURL(addr, path string) (string, error) {
	if addr == "" {
		addr = ":8080"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("STORYBOT_ADDR %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}

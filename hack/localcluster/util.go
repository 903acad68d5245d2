package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// runFreePorts prints N loopback ports that were free a moment ago, space-separated. All N are
// held open together while choosing, so they are distinct.
func runFreePorts(args []string, out io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: localcluster free-ports N")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 || n > 64 {
		return fmt.Errorf("free-ports: N must be a number from 1 to 64, got %q", args[0])
	}
	var ports []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	_, err = fmt.Fprintln(out, strings.Join(ports, " "))
	return err
}

// runWaitHTTP polls a URL until it answers 200 OK, so the demo needs no curl.
func runWaitHTTP(args []string) error {
	fs := flag.NewFlagSet("wait-http", flag.ExitOnError)
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	// Accept the URL before or after the flags.
	var url string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		url, args = args[0], args[1:]
	}
	_ = fs.Parse(args)
	if url == "" && fs.NArg() == 1 {
		url = fs.Arg(0)
	}
	if url == "" {
		return fmt.Errorf("usage: localcluster wait-http URL [--timeout 30s]")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer 200 OK within %s (last: %s)", url, *timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Command gcpfake serves the fake Google Cloud APIs (Cloud Run Admin v2,
// IAP Admin IAM, Resource Manager GetProject) over gRPC, with a loopback
// JSON admin endpoint for inspection, out-of-band changes and faults.
//
//	go run ./cmd/gcpfake --seed internal/gcpfake/testdata/seed.yaml
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/runguard/runguard/internal/gcpfake"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gcpfake:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:8790", "gRPC listen address")
	seedPath := flag.String("seed", "", "YAML seed file (projects and services)")
	adminListen := flag.String("admin-listen", "127.0.0.1:8791", "admin HTTP listen address (loopback only)")
	reconcileDelay := flag.Duration("reconcile-delay", 0, "how long a Cloud Run change stays reconciling")
	faultSeed := flag.Int64("fault-seed", 1, "seed for probabilistic fault rules")
	flag.Parse()

	if err := requireLoopback(*adminListen); err != nil {
		return fmt.Errorf("--admin-listen: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var seed gcpfake.Seed
	if *seedPath != "" {
		var err error
		if seed, err = gcpfake.LoadSeed(*seedPath); err != nil {
			return err
		}
	}
	srv, err := gcpfake.Start(gcpfake.Options{Addr: *listen, Seed: seed, ReconcileDelay: *reconcileDelay, Logger: logger, FaultSeed: *faultSeed})
	if err != nil {
		return err
	}
	defer srv.Stop()

	adminLis, err := net.Listen("tcp", *adminListen)
	if err != nil {
		return fmt.Errorf("admin listen: %w", err)
	}
	admin := &http.Server{Handler: srv.AdminHandler(), ReadHeaderTimeout: 5 * time.Second}
	adminErr := make(chan error, 1)
	go func() { adminErr <- admin.Serve(adminLis) }()
	logger.Info("gcpfake serving", "grpc", srv.Endpoint(), "admin", "http://"+adminLis.Addr().String(),
		"projects", len(seed.Projects), "services", len(seed.Services))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
		logger.Info("gcpfake shutting down")
	case err := <-adminErr:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("admin server: %w", err)
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = admin.Shutdown(shutdownCtx)
	srv.Stop()
	logger.Info("gcpfake stopped")
	return nil
}

// requireLoopback refuses to expose the unauthenticated admin API beyond
// this machine.
func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address", addr)
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// runStart runs etcd and kube-apiserver until SIGINT or SIGTERM, with an admin kubeconfig on disk.
func runStart(args []string) error {
	fs := flag.NewFlagSet("start", flag.ExitOnError)
	assets := fs.String("assets", os.Getenv("KUBEBUILDER_ASSETS"), "directory holding kube-apiserver and etcd (default $KUBEBUILDER_ASSETS; see ./hack/build-k8s-binaries.sh --print-dir)")
	kubeconfig := fs.String("kubeconfig", filepath.Join("bin", "demo", "kubeconfig"), "where to write the admin kubeconfig")
	crds := fs.String("crds", "", "directory of CRD manifests to install before printing ready, e.g. config/crd/bases (default: none)")
	logDir := fs.String("log-dir", "", "directory for etcd.log and kube-apiserver.log (default: discard their output)")
	startTimeout := fs.Duration("start-timeout", 60*time.Second, "how long etcd and kube-apiserver may each take to start")
	_ = fs.Parse(args)
	// envtest logs through controller-runtime's logger; errors are returned to us anyway.
	ctrllog.SetLogger(zap.New(zap.WriteTo(io.Discard)))

	if *assets == "" {
		return errors.New("no control-plane binaries: pass --assets DIR or set KUBEBUILDER_ASSETS (run ./hack/build-k8s-binaries.sh, then use its --print-dir)")
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(*assets, b)); err != nil {
			return fmt.Errorf("%s not found in %s: run ./hack/build-k8s-binaries.sh", b, *assets)
		}
	}

	// Signals that arrive while the control plane starts still stop it once Start returns.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	env := &envtest.Environment{
		BinaryAssetsDirectory:    *assets,
		ControlPlaneStartTimeout: *startTimeout,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	if *crds != "" {
		env.CRDDirectoryPaths = []string{*crds}
		env.ErrorIfCRDPathMissing = true
	}
	if *logDir != "" {
		etcdLog, apiLog, err := openLogs(*logDir)
		if err != nil {
			return err
		}
		defer etcdLog.Close()
		defer apiLog.Close()
		env.ControlPlane.Etcd = &envtest.Etcd{Out: etcdLog, Err: etcdLog}
		env.ControlPlane.APIServer = &envtest.APIServer{Out: apiLog, Err: apiLog}
	}

	started := time.Now()
	fmt.Println("starting etcd and kube-apiserver from", *assets)
	if _, err := env.Start(); err != nil {
		_ = env.Stop()
		return fmt.Errorf("start control plane: %w", err)
	}
	err := writeKubeconfig(env, *kubeconfig)
	if err == nil {
		fmt.Printf("api server: %s\n", env.Config.Host)
		if u := env.ControlPlane.Etcd.URL; u != nil {
			fmt.Printf("etcd: %s\n", u)
		}
		fmt.Printf("kubeconfig: %s\n", *kubeconfig)
		fmt.Printf("ready (%.1fs)\n", time.Since(started).Seconds())
		<-ctx.Done()
		fmt.Println("stopping kube-apiserver and etcd")
	}
	_ = os.Remove(*kubeconfig)
	if stopErr := env.Stop(); stopErr != nil {
		return errors.Join(err, fmt.Errorf("stop control plane: %w", stopErr))
	}
	if err == nil {
		fmt.Println("stopped")
	}
	return err
}

// writeKubeconfig writes a kubeconfig for a cluster-admin user (group system:masters).
func writeKubeconfig(env *envtest.Environment, path string) error {
	user, err := env.AddUser(envtest.User{Name: "local-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add admin user: %w", err)
	}
	raw, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("build kubeconfig: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	// Write then rename, so a reader polling for the file never sees half of it.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return os.Rename(tmp, path)
}

func openLogs(dir string) (etcdLog, apiLog io.WriteCloser, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	e, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		return nil, nil, err
	}
	a, err := os.Create(filepath.Join(dir, "kube-apiserver.log"))
	if err != nil {
		e.Close()
		return nil, nil, err
	}
	return e, a, nil
}

// Command localcluster is the demo's helper: it runs a local Kubernetes control plane (etcd and
// kube-apiserver, started the way envtest starts them), prints the fake Google Cloud's state
// readably and measures how fast an out-of-band change is corrected, so `make demo` needs nothing
// beyond Go and the binaries hack/ builds.
//
//	localcluster [start] [--assets DIR] [--kubeconfig PATH] [--crds DIR] [--log-dir DIR]
//	localcluster google-state --admin http://127.0.0.1:PORT
//	localcluster drift-by-event --admin http://127.0.0.1:PORT --service projects/P/locations/L/services/S [--member allUsers] [--timeout 10s]
//	localcluster grant-above --admin http://127.0.0.1:PORT --resource projects/N/iap_web --member user:M [--role R] [--revoke]
//	localcluster free-ports N
//	localcluster wait-http URL [--timeout 30s]
package main

import (
	"fmt"
	"os"
)

const usage = `usage:
  localcluster [start] [flags]         run etcd and kube-apiserver until SIGINT/SIGTERM; prints "ready"
  localcluster google-state --admin URL print each Cloud Run service of the fake Google Cloud readably
  localcluster drift-by-event --admin URL --service NAME
                                        grant allUsers the invoker role out of band and time its removal
  localcluster grant-above --admin URL --resource NAME --member MEMBER [--role ROLE] [--revoke]
                                        grant (or revoke) a role above the services out of band
  localcluster free-ports N             print N free loopback TCP ports
  localcluster wait-http URL            wait until URL answers 200 OK
Run a subcommand with -h for its flags.`

func main() {
	args := os.Args[1:]
	cmd := "start"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "start":
		err = runStart(args)
	case "google-state":
		err = runGoogleState(args, os.Stdout)
	case "drift-by-event":
		err = runDriftByEvent(args, os.Stdout)
	case "grant-above":
		err = runGrantAbove(args, os.Stdout)
	case "free-ports":
		err = runFreePorts(args, os.Stdout)
	case "wait-http":
		err = runWaitHTTP(args)
	case "help":
		fmt.Println(usage)
	default:
		fmt.Fprintf(os.Stderr, "localcluster: unknown command %q\n%s\n", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
}

//go:build pprof

package main

import (
	"net/http"
	"net/http/pprof"
	"os"
)

// Built only with -tags pprof (scripts/load does, when PROFILE is set):
// the runtime profiles on their own loopback listener, LOCAL_PPROF_ADDR,
// never on the service's address and never in a default build.
func init() {
	addr := os.Getenv("LOCAL_PPROF_ADDR")
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	go func() { _ = http.ListenAndServe(addr, mux) }()
}

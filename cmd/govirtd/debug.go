package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"time"

	"govirt/drivers/qemu"
)

// Test-only knobs, read from the environment so that no config file or
// flag exposes them to users:
//
//   - GOVIRT_JOB_TIMEOUT (a Go duration, e.g. 3s) shortens the QEMU
//     driver's job wait, so the fault-injection suite can see libvirt's
//     "cannot acquire state change lock" error without waiting 30 s.
//   - GOVIRT_DEBUG_SOCKET (a path) serves the daemon's goroutine count
//     on a unix socket: each connection gets one line "goroutines N" and
//     is closed. The suite compares it before and after a stress run to
//     find leaked goroutines (SIGQUIT would kill the daemon).
func startDebugHooks(log *slog.Logger) func() {
	if v := os.Getenv("GOVIRT_JOB_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			log.Error("GOVIRT_JOB_TIMEOUT ignored", "value", v, "err", err)
		} else {
			qemu.SetJobTimeout(d)
		}
	}
	path := os.Getenv("GOVIRT_DEBUG_SOCKET")
	if path == "" {
		return func() {}
	}
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		log.Error("debug socket", "path", path, "err", err)
		return func() {}
	}
	os.Chmod(path, 0o600)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "goroutines %d\n", runtime.NumGoroutine())
			c.Close()
		}
	}()
	return func() { ln.Close(); os.Remove(path) }
}

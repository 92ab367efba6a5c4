package main

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"govirt/drivers/qemu"
)

// Test-only knobs, read from the environment so that no config file or
// flag exposes them to users:
//
//   - GOVIRT_JOB_TIMEOUT (a Go duration, e.g. 3s) shortens the QEMU
//     driver's job wait, so the fault-injection suite can see libvirt's
//     "cannot acquire state change lock" error without waiting 30 s.
//   - GOVIRT_DEBUG_SOCKET (a path) answers one question per connection
//     on a unix socket: the client writes a word and a newline, the
//     daemon answers a line "WORD N" and closes. The words:
//     "goroutines" (the daemon's goroutine count: the suite compares it
//     before and after a stress run to find leaked goroutines; SIGQUIT
//     would kill the daemon), "recovering" (guests whose reconnection
//     after a restart is still in progress: the suite waits for 0 before
//     it checks them) and "guests" (guest objects the QEMU driver holds
//     in memory after a garbage collection: a guest that is gone must
//     not stay reachable, whatever table forgot to let it go).
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
			go answerDebug(c)
		}
	}()
	return func() { ln.Close(); os.Remove(path) }
}

// debugDriver is the QEMU driver once run created it, for the debug
// socket's questions about it.
var debugDriver atomic.Pointer[qemu.Driver]

func answerDebug(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	word := strings.TrimSpace(line)
	n := -1
	switch word {
	case "goroutines":
		n = runtime.NumGoroutine()
	case "recovering":
		if d := debugDriver.Load(); d != nil {
			n = d.Recovering()
		}
	case "guests":
		n = qemu.GuestObjects()
	}
	if n < 0 {
		fmt.Fprintf(c, "unknown %q\n", word)
		return
	}
	fmt.Fprintf(c, "%s %d\n", word, n)
}

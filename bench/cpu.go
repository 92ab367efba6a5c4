package main

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"govirt/client"
	"govirt/remote"
	"govirt/rpc/procs"
)

// cpuclient.c is built with gcc against libvirt's client library, so both
// daemons are measured with the very client libvirt ships.
//
//go:embed cpuclient/cpuclient.c
var cpuClientSource []byte

// cpuTargets are the targets: govirtd's CPU per call against
// libvirtd's.
var cpuTargets = map[string]float64{"DOMAIN_GET_INFO": 0.3, "CONNECT_LIST_ALL_DOMAINS": 0.2}

// benchCPUSuite measures the daemons' own CPU (utime+stime from
// /proc/PID/stat) per DOMAIN_GET_INFO and per CONNECT_LIST_ALL_DOMAINS
// with *ndomains domains defined, on the test and the QEMU driver.
func benchCPUSuite(sock string, haveLibvirtd bool) error {
	bin, err := buildCPUClient()
	if err != nil {
		return err
	}
	defer os.RemoveAll(filepath.Dir(bin))
	type daemon struct {
		name, sock string
		pid        func() int
	}
	ds := []daemon{{"govirtd", sock, func() int { return govirtdPID }}}
	if haveLibvirtd {
		ds = append(ds, daemon{"libvirtd", *libvirtdSock, libvirtdPID})
	}
	fmt.Printf("daemon CPU per call (utime+stime), %d domains defined, one libvirt C client calling back to back;\n", *ndomains)
	fmt.Printf("median of %d alternating rounds of %v\n", *rounds, *duration)
	fmt.Printf("%-7s %-26s %12s %12s %8s %8s\n", "driver", "call", "govirtd", "libvirtd", "ratio", "target")
	met := true
	for _, drv := range []string{"test", "qemu"} {
		// Each daemon gets its domains (and, on the test driver, a keeper
		// connection holding that state) before any measurement.
		doms := make([]string, len(ds))
		for i, d := range ds {
			uri := drv + "+unix:///default?socket=" + d.sock
			if drv == "qemu" {
				uri = "qemu+unix:///system?socket=" + d.sock
			}
			cleanup, dom, err := cpuDomains(uri, drv)
			if err != nil {
				return fmt.Errorf("%s %s driver: %w", d.name, drv, err)
			}
			defer cleanup()
			doms[i] = dom
		}
		// Work a daemon defers after the defines would otherwise be
		// charged to the first calls measured.
		for _, d := range ds {
			waitIdle(d.pid())
		}
		for _, call := range []string{"DOMAIN_GET_INFO", "CONNECT_LIST_ALL_DOMAINS"} {
			mode := "info"
			if call == "CONNECT_LIST_ALL_DOMAINS" {
				mode = "list"
			}
			per := make([][]float64, len(ds))
			for r := 0; r < *rounds; r++ {
				for i, d := range ds {
					uri := "test+unix:///default?socket=" + d.sock
					if drv == "qemu" {
						uri = "qemu+unix:///system?socket=" + d.sock
					}
					v, err := runCPUClient(bin, uri, d.pid(), mode, doms[i])
					if err != nil {
						return fmt.Errorf("%s %s %s: %w", d.name, drv, call, err)
					}
					per[i] = append(per[i], v)
				}
			}
			g, l, ratio, mark := median(per[0]), "n/a", "n/a", ""
			if len(ds) > 1 {
				r := g / median(per[1])
				l, ratio = fmtCPU(median(per[1])), fmt.Sprintf("%.2fx", r)
				if r > cpuTargets[call] {
					mark, met = " missed", false
				}
			}
			fmt.Printf("%-7s %-26s %12s %12s %8s %7.1fx%s\n", drv, call, fmtCPU(g), l, ratio, cpuTargets[call], mark)
		}
	}
	if haveLibvirtd && met {
		fmt.Println("all targets met")
	}
	return nil
}

func fmtCPU(ns float64) string {
	if ns >= 1e6 {
		return fmt.Sprintf("%.2f ms", ns/1e6)
	}
	return fmt.Sprintf("%.1f µs", ns/1e3)
}

// cpuDomains defines *ndomains domains on uri's driver and returns how to
// undo that and the domain GET_INFO asks about. On the test driver the
// domains live as long as a connection to it does, so the returned
// cleanup closes that keeper connection.
func cpuDomains(uri, drv string) (func(), string, error) {
	c, err := client.Dial(uri)
	if err != nil {
		return nil, "", err
	}
	ctx := context.Background()
	if drv == "test" {
		if err := defineDomains(ctx, c, *ndomains); err != nil {
			c.Close()
			return nil, "", err
		}
		return func() { c.Close() }, "test", nil
	}
	var defined []remote.NonnullDomain
	cleanup := func() {
		for _, d := range defined {
			c.Call(ctx, procs.DomainUndefine, remote.DomainUndefineArgs{Dom: d}, nil)
		}
		c.Close()
	}
	for i := 0; i < *ndomains; i++ {
		var r remote.DomainDefineXMLRet
		// A fixed uuid per name: guests an interrupted run left behind
		// are redefined in place rather than clashing.
		name := fmt.Sprintf("cpu-%d", i)
		xml := strings.Replace(benchDomain(name), "</name>", fmt.Sprintf("</name><uuid>c0c0c0c0-0000-4000-8000-%012x</uuid>", i), 1)
		if err := c.Call(ctx, procs.DomainDefineXML, remote.DomainDefineXMLArgs{XML: xml}, &r); err != nil {
			cleanup()
			return nil, "", err
		}
		defined = append(defined, r.Dom)
	}
	return cleanup, "cpu-0", nil
}

// runCPUClient runs the C client for *duration and returns the daemon's
// CPU nanoseconds per call.
func runCPUClient(bin, uri string, pid int, mode, dom string) (float64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("no pid")
	}
	out, err := exec.Command(bin, uri, strconv.Itoa(pid), mode, strconv.FormatFloat(duration.Seconds(), 'f', 3, 64), dom).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return 0, fmt.Errorf("cpuclient: %v: %s", err, ee.Stderr)
		}
		return 0, err
	}
	f := strings.Fields(string(out))
	if len(f) != 3 {
		return 0, fmt.Errorf("cpuclient printed %q", out)
	}
	calls, _ := strconv.ParseFloat(f[0], 64)
	cpu, _ := strconv.ParseFloat(f[1], 64)
	if calls == 0 {
		return 0, fmt.Errorf("cpuclient made no calls")
	}
	return cpu / calls, nil
}

// buildCPUClient compiles cpuclient.c into a temporary directory,
// installing gcc and libvirt-dev first when they are missing (root only).
func buildCPUClient() (string, error) {
	if exec.Command("pkg-config", "--exists", "libvirt").Run() != nil || exec.Command("gcc", "--version").Run() != nil {
		if os.Geteuid() != 0 {
			return "", fmt.Errorf("the cpu suite needs gcc, pkg-config and libvirt-dev")
		}
		cmd := exec.Command("sh", "-c", "apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc libc6-dev pkg-config libvirt-dev")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("installing gcc and libvirt-dev: %v\n%s", err, out)
		}
	}
	dir, err := os.MkdirTemp("", "gvcpu")
	if err != nil {
		return "", err
	}
	src, bin := filepath.Join(dir, "cpuclient.c"), filepath.Join(dir, "cpuclient")
	if err := os.WriteFile(src, cpuClientSource, 0o644); err != nil {
		return "", err
	}
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "libvirt").Output()
	if err != nil {
		return "", fmt.Errorf("pkg-config libvirt: %v", err)
	}
	args := append([]string{"-O2", "-o", bin, src}, strings.Fields(string(flags))...)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("building cpuclient: %v\n%s", err, out)
	}
	return bin, nil
}

// waitIdle waits (at most 20 s) until pid used no CPU tick over half a
// second.
func waitIdle(pid int) {
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); {
		a := procCPU(pid)
		time.Sleep(500 * time.Millisecond)
		if b := procCPU(pid); a >= 0 && b-a <= 1 {
			return
		}
	}
}

// procCPU is utime+stime of pid in clock ticks, -1 if unreadable.
func procCPU(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return -1
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut + st
}

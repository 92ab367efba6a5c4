package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"govirt/client"
	"govirt/remote"
	"govirt/rpc/procs"
)

// benchRSSSuite defines 1,000 QEMU domains in each daemon and compares
// their resident memory; the domains are undefined afterwards.
func benchRSSSuite(sock string, haveLibvirtd bool) error {
	fmt.Printf("daemon RSS with %d defined QEMU domains\n", *ndomains)
	g, err := rssWith("qemu+unix:///system?socket="+sock, govirtdPID)
	if err != nil {
		return fmt.Errorf("govirtd: %w", err)
	}
	fmt.Printf("govirtd   %8d KiB\n", g)
	if !haveLibvirtd {
		return nil
	}
	l, err := rssWith("qemu+unix:///system?socket="+*libvirtdSock, libvirtdPID)
	if err != nil {
		return fmt.Errorf("libvirtd: %w", err)
	}
	fmt.Printf("libvirtd  %8d KiB\n", l)
	fmt.Printf("govirtd/libvirtd: %.2fx\n", float64(g)/float64(l))
	return nil
}

var govirtdPID int

// libvirtdPID is the pid of the process serving libvirtd's socket (its
// peer credentials), else the baseline script's pid file: that file
// outlives a libvirtd restarted by other means and then names a process
// that is gone.
func libvirtdPID() int {
	if c, err := net.Dial("unix", *libvirtdSock); err == nil {
		defer c.Close()
		if raw, err := c.(*net.UnixConn).SyscallConn(); err == nil {
			var cred *syscall.Ucred
			raw.Control(func(fd uintptr) {
				cred, _ = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
			})
			if cred != nil && cred.Pid > 0 {
				return int(cred.Pid)
			}
		}
	}
	data, _ := os.ReadFile("/tmp/libvirtd-baseline/libvirtd.pid")
	n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return n
}

func rssWith(uri string, pid any) (int, error) {
	c, err := client.Dial(uri)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	ctx := context.Background()
	var doms []remote.NonnullDomain
	defer func() {
		for _, d := range doms {
			c.Call(ctx, procs.DomainUndefine, remote.DomainUndefineArgs{Dom: d}, nil)
		}
	}()
	for i := 0; i < *ndomains; i++ {
		var r remote.DomainDefineXMLRet
		if err := c.Call(ctx, procs.DomainDefineXML, remote.DomainDefineXMLArgs{XML: benchDomain(fmt.Sprintf("rss-%d", i))}, &r); err != nil {
			return 0, err
		}
		doms = append(doms, r.Dom)
	}
	p := 0
	switch v := pid.(type) {
	case int:
		p = v
	case func() int:
		p = v()
	}
	return vmRSS(p)
}

// vmRSS reads VmRSS of pid in KiB.
func vmRSS(pid int) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			return strconv.Atoi(strings.Fields(l)[1])
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

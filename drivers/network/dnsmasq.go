package network

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"govirt/atomicfile"
	"govirt/conf"
	"govirt/virerr"
)

// dnsmasq runs per network as under libvirt: a daemonized dnsmasq reading
// the generated configuration (which names its pid file), with its files
// under StateDir/dnsmasq as libvirt's /var/lib/libvirt/dnsmasq. libvirt's
// lease helper is not used: dnsmasq keeps its own lease file under
// RunDir, read by net-dhcp-leases.

func (m *Manager) dnsmasqDir() string { return filepath.Join(m.cfg.StateDir, "dnsmasq") }

// needDnsmasq is networkStartDhcpDaemon's test: some IP address, and DHCP
// or TFTP wanted or DNS not disabled.
func needDnsmasq(n *netXML) bool {
	if len(n.IPs) == 0 {
		return false
	}
	for _, ip := range n.IPs {
		if ip.hasDHCP() || ip.TFTP.Root != "" {
			return true
		}
	}
	return n.DNS.Enable != "no"
}

// startDnsmasq writes the files and starts dnsmasq; it returns its pid.
func (m *Manager) startDnsmasq(n *netXML) (int, error) {
	bin, err := exec.LookPath("dnsmasq")
	if err != nil {
		return 0, fmt.Errorf("Cannot find 'dnsmasq' in path: install the Debian package dnsmasq-base")
	}
	dir := m.dnsmasqDir()
	for _, d := range []string{dir, m.cfg.RunDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return 0, err
		}
	}
	m.makeTraversable()
	nf, err := m.files(n.Name)
	if err != nil {
		return 0, err
	}
	pidfile := nf.pid
	os.Remove(pidfile)
	files, err := dnsmasqConfig(n, dir, pidfile)
	if err != nil {
		return 0, err
	}
	// The hosts files are read again by dnsmasq after it dropped its
	// privileges (SIGHUP); the configuration only at start.
	for _, f := range []struct {
		path, data string
		perm       os.FileMode
	}{{nf.conf, files.conf, 0o600},
		{nf.hosts, files.hosts, 0o644},
		{nf.addnHosts, files.addnHosts, 0o644}} {
		if err := atomicfile.Write(f.path, []byte(f.data), f.perm); err != nil {
			return 0, fmt.Errorf("couldn't write dnsmasq config file '%s': %v", f.path, err)
		}
	}
	cmd := execCommand(bin, "--conf-file="+nf.conf, "--dhcp-leasefile="+nf.leases)
	cmd.Env = append(os.Environ(), "VIR_BRIDGE_NAME="+n.Bridge.Name)
	// dnsmasq daemonizes; the parent exits once the child wrote its pid.
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("dnsmasq for network '%s' failed: %v: %s", n.Name, err, strings.TrimSpace(string(out)))
	}
	pid, err := readPid(pidfile)
	if err != nil {
		return 0, fmt.Errorf("dnsmasq for network '%s' wrote no pid: %v", n.Name, err)
	}
	return pid, nil
}

func readPid(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

// dnsmasqAlive says whether pid is a dnsmasq running with conf.
func dnsmasqAlive(pid int, conf string) bool {
	if pid <= 0 {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	return bytes.Contains(cmdline, []byte("--conf-file="+conf+"\x00"))
}

// stopDnsmasq is what networkShutdownNetworkVirtual does: SIGTERM; it
// waits briefly so the bridge can go right after.
func (m *Manager) stopDnsmasq(name string, pid int) {
	nf := m.mustFiles(name)
	conf := nf.conf
	if conf != "" && dnsmasqAlive(pid, conf) {
		syscall.Kill(pid, syscall.SIGTERM)
		for i := 0; i < 100 && dnsmasqAlive(pid, conf); i++ {
			time.Sleep(20 * time.Millisecond)
		}
		if dnsmasqAlive(pid, conf) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if nf.pid != "" {
		os.Remove(nf.pid)
	}
}

// removeDnsmasqFiles is networkRemoveInactive's cleanup of a network's
// dnsmasq files.
func (m *Manager) removeDnsmasqFiles(name string) {
	nf, err := m.files(name)
	if err != nil {
		return
	}
	for _, p := range []string{nf.conf, nf.hosts, nf.addnHosts, nf.leases} {
		os.Remove(p)
	}
}

// makeTraversable lets dnsmasq reach its hosts files: it reads them after
// dropping its privileges to nobody (libvirt's /var/lib/libvirt/dnsmasq
// is world-readable for that). The driver's directories are 0755, and the
// daemon's state directory (0700) gets search permission for others
// (0711): its names stay unlistable and its files keep their own modes.
func (m *Manager) makeTraversable() {
	for _, d := range []string{m.dnsmasqDir(), m.cfg.StateDir, filepath.Dir(m.cfg.StateDir)} {
		st, err := os.Stat(d)
		if err != nil || st.Mode().Perm()&0o001 != 0 {
			continue
		}
		perm := st.Mode().Perm() | 0o011
		if d == m.dnsmasqDir() || d == m.cfg.StateDir {
			perm = 0o755
		}
		if err := os.Chmod(d, perm); err != nil {
			m.log.Warn("dnsmasq may not read its hosts files", "dir", d, "err", err)
		}
	}
}

// refreshDnsmasq is networkRefreshDhcpDaemon: the hosts files are written
// again and dnsmasq rereads them on SIGHUP; a dnsmasq that is not
// running is started. pid is the running dnsmasq's; the one running
// afterwards is returned. The caller holds the network's op lock only.
func (m *Manager) refreshDnsmasq(live *conf.Network, pid int) (int, error) {
	x, err := netXMLOf(live)
	if err != nil {
		return pid, errNet(virerr.ErrInternalError, "%v", err)
	}
	if !ownsBridge(x.forwardMode()) || !needDnsmasq(x) {
		return pid, nil
	}
	nf, err := m.files(x.Name)
	if err != nil {
		return pid, err
	}
	if !dnsmasqAlive(pid, nf.conf) {
		npid, err := m.startDnsmasq(x)
		if err != nil {
			return 0, errNet(virerr.ErrSystemError, "%v", err)
		}
		return npid, nil
	}
	dir := m.dnsmasqDir()
	files, err := dnsmasqConfig(x, dir, nf.pid)
	if err != nil {
		return pid, errNet(virerr.ErrConfigUnsupported, "%v", err)
	}
	for path, data := range map[string]string{nf.hosts: files.hosts, nf.addnHosts: files.addnHosts} {
		if err := atomicfile.Write(path, []byte(data), 0o644); err != nil {
			return pid, errNet(virerr.ErrSystemError, "cannot write '%s': %v", path, err)
		}
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return pid, errNet(virerr.ErrSystemError, "cannot signal dnsmasq: %v", err)
	}
	return pid, nil
}

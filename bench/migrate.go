package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"govirt/conf"
	"govirt/drivers/qemu/caps"
	"govirt/drivers/qemu/command"
	"govirt/qmp"
	"govirt/testguest"
)

// The migrate suite: a live migration of a -mig-mem guest (the test
// guest, TCG unless KVM is usable) that keeps rewriting part of its
// memory, with `virsh migrate --live` (Begin to Confirm, the destination
// QEMU's start included): govirtd -> govirtd, and with libvirtd running
// libvirtd -> govirtd and govirtd -> libvirtd with the same flags
// (migrate_libvirtd.go: only one libvirtd runs here, so the mixed legs
// isolate each daemon's side), against the floor: two QEMUs with the
// same command line migrated by hand over QMP (destination spawned with
// -incoming defer, migrate-incoming, migrate, completed, cont). Total
// time, the downtime the source reports and the guest's pause (suspend
// to resume events), median of -rounds.

var (
	migMem   = flag.Int("mig-mem", 1024, "migrate suite: guest memory in MiB")
	migDirty = flag.Int("mig-dirty", 64, "migrate suite: MB the guest rewrites in a loop")
)

func migrateDomain(name, sock string) string {
	kernel, initrd := filepath.Join(testguest.Dir(), "vmlinuz"), filepath.Join(testguest.Dir(), "initrd.img")
	typ := "qemu"
	if testguest.KVMUsable() {
		typ = "kvm"
	}
	return fmt.Sprintf(`<domain type='%s'><name>%s</name><memory unit='MiB'>%d</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='q35'>hvm</type><kernel>%s</kernel><initrd>%s</initrd><cmdline>%s</cmdline></os><features><acpi/></features>
<devices><serial type='unix'><source mode='bind' path='%s'/><target port='0'/></serial></devices></domain>`,
		typ, name, *migMem, kernel, initrd, testguest.Cmdline, sock)
}

// bootDirty waits for the guest's shell on sock and starts its dirtying loop.
func bootDirty(sock string) error {
	var c net.Conn
	var err error
	for i := 0; i < 400; i++ {
		if c, err = net.Dial("unix", sock); err == nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	con := testguest.NewConsole(c, c)
	if _, err := con.Expect(testguest.ReadyMarker, 3*time.Minute); err != nil {
		return fmt.Errorf("guest did not boot: %v", err)
	}
	con.Send(fmt.Sprintf("(while :; do yes dirty | head -c %d >/tmp/dirty; done) >/dev/null 2>&1 &", *migDirty*1000*1000))
	con.Send("echo GV-DIRTY-$((40+2))") // the echoed command does not match
	_, err = con.Expect("GV-DIRTY-42", time.Minute)
	time.Sleep(2 * time.Second) // the loop is running
	return err
}

func benchMigrateSuite(sock string, haveLibvirtd bool) error {
	if _, err := os.Stat(filepath.Join(testguest.Dir(), "initrd.img")); err != nil {
		return fmt.Errorf("the test guest is not built (sh testguest/build.sh): %v", err)
	}
	sock2, stop2, err := startGovirtd()
	if err != nil {
		return err
	}
	defer stop2()
	if haveLibvirtd {
		// An interrupted earlier run's guests.
		c, err := dialClean(context.Background(), qemuURI(*libvirtdSock), migGuestBase)
		if err != nil {
			return fmt.Errorf("libvirtd: %v", err)
		}
		c.Close()
	}
	legs := migLegs(qemuURI(sock), qemuURI(sock2), haveLibvirtd) // migrate_libvirtd.go
	fmt.Printf("live migration of a %d MiB %s guest rewriting %d MB in a loop; %d rounds, the legs' order rotating (load average %s)\n",
		*migMem, accelName(), *migDirty, *rounds, loadAvg())
	for r := 0; r < *rounds; r++ {
		for i := range legs {
			if err := legs[(i+r)%len(legs)].run(r); err != nil {
				return err
			}
		}
	}
	printMigrateReport(legs)
	return nil
}

var downtimeRe = regexp.MustCompile(`Total downtime:\s+(\d+)\s+ms`)

func virshRun(uri string, args ...string) (string, error) {
	out, err := exec.Command("virsh", append([]string{"-c", uri}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("virsh %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// daemonMigration boots a guest named name on the daemon at srcURI and
// migrates it to the one at dstURI (either may be govirtd or libvirtd);
// the total is virsh migrate's wall time, the downtime domjobinfo
// --completed's on the source, the pause the daemons' lifecycle events'.
// The guest is removed from both daemons whatever happens.
func daemonMigration(srcURI, dstURI, name string) (res migResult, err error) {
	dir, err := os.MkdirTemp("", "gvmig")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755) // libvirtd's QEMU binds the console there
	sock, sock2 := filepath.Join(dir, "con"), filepath.Join(dir, "con2")
	xmlPath, destXML := filepath.Join(dir, "dom.xml"), filepath.Join(dir, "dest.xml")
	os.WriteFile(xmlPath, []byte(migrateDomain(name, sock)), 0o644)
	if err := trackGuest(srcURI, name); err != nil {
		return res, err
	}
	defer untrackGuest(srcURI, name)
	if err := trackGuest(dstURI, name); err != nil {
		return res, err
	}
	defer untrackGuest(dstURI, name)
	var groups migGroups // migrate_cgroup.go
	defer groups.remove()
	lv := qemuURI(*libvirtdSock)
	defer func() {
		virshRun(dstURI, "destroy", name)
		virshRun(dstURI, "undefine", name)
		virshRun(srcURI, "destroy", name)
		virshRun(srcURI, "undefine", name)
	}()
	if _, err := virshRun(srcURI, "define", xmlPath); err != nil {
		return res, err
	}
	if _, err := virshRun(srcURI, "start", name); err != nil {
		return res, err
	}
	if srcURI == lv && migPlacing() {
		if err := groups.placeExisting(name); err != nil {
			return res, err
		}
	}
	if err := bootDirty(sock); err != nil {
		return res, err
	}
	doc, err := virshRun(srcURI, "dumpxml", "--migratable", name)
	if err != nil {
		return res, err
	}
	os.WriteFile(destXML, []byte(strings.Replace(doc, sock, sock2, 1)), 0o644)
	port, err := freePort()
	if err != nil {
		return res, err
	}
	w, err := watchPause(srcURI, dstURI, name)
	if err != nil {
		return res, err
	}
	defer w.close()
	placed := func() error { return nil }
	if dstURI == lv && migPlacing() {
		placed = groups.placeNew(name)
	}
	t0 := time.Now()
	_, err = virshRun(srcURI, append(migFlags(destXML, port), name, dstURI)...)
	res.total = time.Since(t0)
	if perr := placed(); err == nil && perr != nil {
		err = perr
	}
	if err != nil {
		return res, err
	}
	if err := w.fill(&res, t0); err != nil {
		return res, err
	}
	if st, err := virshRun(dstURI, "domstate", name); err != nil || strings.TrimSpace(st) != "running" {
		return res, fmt.Errorf("on the destination after the migration: %q %v", strings.TrimSpace(st), err)
	}
	out, err := virshRun(srcURI, "domjobinfo", "--completed", name)
	if err != nil {
		return res, err
	}
	m := downtimeRe.FindStringSubmatch(out)
	if m == nil {
		return res, fmt.Errorf("no downtime in %q", out)
	}
	ms, _ := strconv.Atoi(m[1])
	res.down = time.Duration(ms) * time.Millisecond
	return res, nil
}

// floorQEMU spawns QEMU for def as govirtd does (inherited monitor
// socket, host files as descriptors), paused, with extra arguments.
func floorQEMU(qc *caps.Caps, def *conf.Domain, dir string, onEvent func(qmp.Event), extra ...string) (*exec.Cmd, *qmp.Monitor, error) {
	os.MkdirAll(dir, 0o700)
	mon := filepath.Join(dir, "mon.sock")
	cl, err := command.Build(def, qc, command.Paths{Name: def.Name, DomainDir: dir, MonitorSocket: mon, MonitorFD: 3})
	if err != nil {
		return nil, nil, err
	}
	lf, err := qmp.Listen(mon)
	if err != nil {
		return nil, nil, err
	}
	hf, err := command.OpenHostFiles(cl.Files, 4)
	if err != nil {
		lf.Close()
		return nil, nil, err
	}
	argv := append(append([]string(nil), cl.Argv...), extra...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.ExtraFiles = append([]*os.File{lf}, hf...)
	err = cmd.Start()
	lf.Close()
	for _, f := range hf {
		f.Close()
	}
	if err != nil {
		return nil, nil, err
	}
	if err := trackProcess(cmd.Process); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		m, err := qmp.Dial(ctx, mon, qmp.Options{OnEvent: onEvent})
		if err == nil {
			return cmd, m, nil
		}
		if ctx.Err() != nil {
			stopFloor(cmd)
			return nil, nil, err
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func stopFloor(cmd *exec.Cmd) {
	cmd.Process.Kill()
	cmd.Wait()
	untrackProcess(cmd.Process)
}

// floorMigration migrates between two bare QEMUs over QMP, timing from
// the destination's spawn (as a daemon's Prepare) to its cont; the pause
// is the source's STOP event to the destination's RESUME event.
func floorMigration(name string) (res migResult, err error) {
	dir, err := os.MkdirTemp("", "gvmigfloor")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	var groups migGroups // migrate_cgroup.go; removed after both QEMUs are killed
	defer groups.remove()
	qc, err := (&caps.Cache{Dir: filepath.Join(dir, "caps")}).Get(context.Background(), "/usr/bin/qemu-system-x86_64")
	if err != nil {
		return res, err
	}
	sock, sock2 := filepath.Join(dir, "con"), filepath.Join(dir, "con2")
	def, err := conf.ParseDomain([]byte(migrateDomain(name, sock)), 0)
	if err != nil {
		return res, err
	}
	var mu sync.Mutex
	var stopped, resumed time.Time
	at := func(event string, t *time.Time) func(qmp.Event) {
		return func(e qmp.Event) {
			now := time.Now()
			mu.Lock()
			if e.Name == event && t.IsZero() {
				*t = now
			}
			mu.Unlock()
		}
	}
	// Started paused (-S), the source stops only for the migration.
	src, smon, err := floorQEMU(qc, def, filepath.Join(dir, "src"), at("STOP", &stopped))
	if err != nil {
		return res, err
	}
	defer stopFloor(src)
	defer smon.Close()
	if migPlacing() {
		if err := groups.place(src.Process.Pid); err != nil {
			return res, err
		}
	}
	ctx := context.Background()
	if err := smon.Execute(ctx, "cont", nil, nil); err != nil {
		return res, err
	}
	if err := bootDirty(sock); err != nil {
		return res, err
	}
	ddef, err := conf.ParseDomain([]byte(migrateDomain(name, sock2)), 0)
	if err != nil {
		return res, err
	}
	port, err := freePort()
	if err != nil {
		return res, err
	}
	t0 := time.Now()
	dst, dmon, err := floorQEMU(qc, ddef, filepath.Join(dir, "dst"), at("RESUME", &resumed), "-incoming", "defer")
	if err != nil {
		return res, err
	}
	defer stopFloor(dst)
	defer dmon.Close()
	if migPlacing() {
		if err := groups.place(dst.Process.Pid); err != nil {
			return res, err
		}
	}
	caps := map[string]any{"capabilities": []map[string]any{{"capability": "events", "state": true}}}
	if err := dmon.Execute(ctx, "migrate-set-capabilities", caps, nil); err != nil {
		return res, err
	}
	if err := dmon.Execute(ctx, "migrate-incoming", map[string]any{"uri": fmt.Sprintf("tcp:127.0.0.1:%d", port)}, nil); err != nil {
		return res, err
	}
	// The daemons lift QEMU's 32 MiB/s default the same way.
	if err := smon.Execute(ctx, "migrate-set-parameters", map[string]any{"max-bandwidth": uint64(1 << 40)}, nil); err != nil {
		return res, err
	}
	prepared := time.Now()
	if err := smon.Execute(ctx, "migrate", map[string]any{"uri": fmt.Sprintf("tcp:127.0.0.1:%d", port)}, nil); err != nil {
		return res, err
	}
	var st struct {
		Status    string `json:"status"`
		Downtime  uint64 `json:"downtime"`
		ErrorDesc string `json:"error-desc"`
	}
	for {
		if err := smon.Execute(ctx, "query-migrate", nil, &st); err != nil {
			return res, err
		}
		if st.Status == "completed" {
			break
		}
		if st.Status == "failed" || st.Status == "cancelled" {
			return res, fmt.Errorf("floor migration %s: %s", st.Status, st.ErrorDesc)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for {
		var ds struct {
			Status string `json:"status"`
		}
		if err := dmon.Execute(ctx, "query-migrate", nil, &ds); err != nil {
			return res, err
		}
		if ds.Status == "completed" {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := dmon.Execute(ctx, "cont", nil, nil); err != nil {
		return res, err
	}
	res.total = time.Since(t0)
	for i := 0; ; i++ {
		mu.Lock()
		s, r := stopped, resumed
		mu.Unlock()
		if !s.IsZero() && !r.IsZero() {
			res.down, res.paused = time.Duration(st.Downtime)*time.Millisecond, r.Sub(s)
			res.prepare, res.transfer = prepared.Sub(t0), s.Sub(prepared)
			return res, nil
		}
		if i == 200 {
			return res, fmt.Errorf("floor: no STOP/RESUME events (STOP at %v, RESUME at %v)", s, r)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

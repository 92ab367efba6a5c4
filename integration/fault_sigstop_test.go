package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"govirt/client"
	"govirt/remote"
	"govirt/rpc/procs"
)

// faultJobTimeout is the job wait the SIGSTOP test gives govirtd
// (GOVIRT_JOB_TIMEOUT) instead of libvirt's 30 s.
const faultJobTimeout = 3 * time.Second

// readLatencies samples reads on every guest through the Go client for
// dur: list, dominfo and dumpxml, each call timed on its own.
func readLatencies(c *client.Client, doms []remote.NonnullDomain, dur time.Duration) ([]time.Duration, error) {
	ctx := context.Background()
	var lat []time.Duration
	timed := func(proc int32, args, ret any) error {
		start := time.Now()
		err := c.Call(ctx, proc, args, ret)
		lat = append(lat, time.Since(start))
		return err
	}
	for end := time.Now().Add(dur); time.Now().Before(end); {
		var list remote.ConnectListAllDomainsRet
		if err := timed(procs.ConnectListAllDomains, &remote.ConnectListAllDomainsArgs{NeedResults: 1}, &list); err != nil {
			return lat, fmt.Errorf("list: %v", err)
		}
		for _, dom := range doms {
			var info remote.DomainGetInfoRet
			if err := timed(procs.DomainGetInfo, &remote.DomainGetInfoArgs{Dom: dom}, &info); err != nil {
				return lat, fmt.Errorf("dominfo %s: %v", dom.Name, err)
			}
			var xml remote.DomainGetXMLDescRet
			if err := timed(procs.DomainGetXMLDesc, &remote.DomainGetXMLDescArgs{Dom: dom}, &xml); err != nil {
				return lat, fmt.Errorf("dumpxml %s: %v", dom.Name, err)
			}
		}
	}
	return lat, nil
}

func percentile(lat []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	return s[int(float64(len(s)-1)*p)]
}

// TestFaultQEMUFrozenDuringSyncJob freezes a guest's QEMU with SIGSTOP
// while a sync job on it waits for the monitor, for each kind of sync
// job: no read on any guest waits on the frozen monitor (their latency is
// a benchmark's business, not a test's), a second job on the guest fails with libvirt's timeout error,
// and after SIGCONT every operation on the guest works.
func TestFaultQEMUFrozenDuringSyncJob(t *testing.T) {
	sc := faultScaleFromEnv(t)
	d := startDaemonEnv(t, []string{"GOVIRT_JOB_TIMEOUT=" + faultJobTimeout.String()})
	t.Cleanup(func() { killOwnQEMUs(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	var names []string
	for i := 0; i < sc.guests; i++ {
		g := fmt.Sprintf("fz%d", i)
		faultDiskGuest(t, d, dir, g)
		mustVirsh(t, uri, "start "+g)
		names = append(names, g)
	}
	spare := filepath.Join(dir, "spare.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", spare, "8M")
	devXML := writeXML(t, "dev", fmt.Sprintf(`<disk type='file' device='disk'>
  <driver name='qemu' type='qcow2'/>
  <source file='%s'/>
  <target dev='vdb' bus='virtio'/>
</disk>`, spare))
	c := dialQEMU(t, d, false)
	var doms []remote.NonnullDomain
	for _, n := range names {
		doms = append(doms, lookupDom(t, c, n))
	}
	g := names[0]
	// holder is how libvirt names the job's owner in the timeout error:
	// the dispatching thread's name (conf/virdomainjob.c).
	jobs := []struct {
		kind, holder string
		args         []string
	}{
		{"suspend", "remoteDispatchDomainSuspend", []string{"suspend", g}},
		{"setmem", "remoteDispatchDomainSetMemoryFlags", []string{"setmem", g, "100M", "--live"}},
		{"attach-device", "remoteDispatchDomainAttachDeviceFlags", []string{"attach-device", g, devXML, "--live"}},
		{"qemu-monitor-command", "qemuDispatchDomainMonitorCommand", []string{"qemu-monitor-command", g, `{"execute":"query-status"}`}},
	}
	for _, j := range jobs {
		t.Run(j.kind, func(t *testing.T) {
			if err := waitStateErr(d, g, "running (booted)", 5*time.Second); err != nil {
				// resumed or restarted by the previous subtest
				if out, _ := runVirsh(uri, 60*time.Second, "domstate", g); strings.TrimSpace(out) != "running" {
					t.Fatalf("%s before the test: %v", g, err)
				}
			}
			pid := statusPID(d, g)
			if pid == 0 {
				t.Fatalf("%s has no pid in its status", g)
			}
			syscall.Kill(pid, syscall.SIGSTOP)
			cont := func() { syscall.Kill(pid, syscall.SIGCONT) }
			defer cont()
			first := make(chan string, 1)
			go func() {
				out, rc := runVirsh(uri, 180*time.Second, j.args...)
				first <- fmt.Sprintf("rc=%d %s", rc, strings.TrimSpace(out))
			}()
			time.Sleep(time.Second) // the first job now waits on the frozen monitor
			// bad are failures; known are issue 11 defects of today's
			// driver (skipped until the job model rewrite is merged).
			var bad, known []string
			lat, err := readLatencies(c, doms, 3*time.Second)
			if err != nil {
				bad = append(bad, "read failed: "+err.Error())
			}
			p50, p99, max := percentile(lat, 0.5), percentile(lat, 0.99), percentile(lat, 1)
			t.Logf("%d reads with %s frozen during %s: p50 %v p99 %v max %v", len(lat), g, j.kind, p50, p99, max)
			// A read that waited on the frozen monitor would take as long as
			// the freeze (seconds); the latency itself belongs to bench/, so
			// only a read blocked for a whole second fails here.
			if max > time.Second {
				bad = append(bad, fmt.Sprintf("a read waited %v on the frozen monitor (p99 %v)", max, p99))
			}
			out, rc := runVirsh(uri, 120*time.Second, j.args...)
			if rc == 0 || !strings.Contains(out, "Timed out during operation: cannot acquire state change lock") {
				bad = append(bad, fmt.Sprintf("a second %s: rc=%d %q, want libvirt's job timeout error", j.kind, rc, strings.TrimSpace(out)))
			} else if want := "(held by monitor=" + j.holder + ")"; !strings.Contains(out, want) {
				known = append(known, fmt.Sprintf("the timeout error names the holder %q, libvirt's says %s",
					strings.TrimSpace(out[strings.Index(out, "cannot acquire"):]), want))
			}
			cont()
			var res string
			select {
			case res = <-first:
			case <-time.After(120 * time.Second):
				bad = append(bad, "the first job never returned after SIGCONT")
			}
			t.Logf("first %s: %s; second: rc=%d %s", j.kind, res, rc, strings.TrimSpace(out))
			if err := noWedge(d, g, devXML); err != nil {
				bad = append(bad, err.Error())
			}
			if len(bad) > 0 {
				t.Logf("daemon log tail:\n%s", tail(d.Log(), 3000))
				t.Errorf("QEMU frozen during %s: %s", j.kind, strings.Join(bad, "; "))
			}
			if len(known) > 0 {
				knownDefect(t, "QEMU frozen during %s: %s", j.kind, strings.Join(known, "; "))
			}
		})
	}
}

// noWedge runs every kind of operation on guest g after its QEMU thawed;
// it leaves g running without the hotplugged disk.
func noWedge(d *daemon, g, devXML string) error {
	uri := d.URI("qemu")
	// What the frozen jobs did may now complete: undo it first.
	if out, _ := runVirsh(uri, 60*time.Second, "domstate", g); strings.TrimSpace(out) == "paused" {
		if o, rc := runVirsh(uri, 60*time.Second, "resume", g); rc != 0 {
			return fmt.Errorf("resume after SIGCONT: %s", strings.TrimSpace(o))
		}
	}
	if out, _ := runVirsh(uri, 60*time.Second, "domblklist", g); strings.Contains(out, "vdb") {
		if o, rc := runVirsh(uri, 60*time.Second, "detach-device", g, devXML, "--live"); rc != 0 {
			return fmt.Errorf("detach-device after SIGCONT: %s", strings.TrimSpace(o))
		}
	}
	steps := [][]string{
		{"suspend", g}, {"resume", g},
		{"setmem", g, "120M", "--live"},
		{"qemu-monitor-command", g, `{"execute":"query-status"}`},
		{"dominfo", g}, {"dumpxml", g},
		{"destroy", g}, {"start", g},
	}
	for _, s := range steps {
		if o, rc := runVirsh(uri, 60*time.Second, s...); rc != 0 {
			return fmt.Errorf("%s after SIGCONT: rc=%d %s", strings.Join(s, " "), rc, strings.TrimSpace(o))
		}
	}
	return nil
}

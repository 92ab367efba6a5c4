package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// The guests of the two cloud stacks that drive libvirt, written as they
// write them (Nova's nova/virt/libvirt/config.py and vif.py with
// virt_type=qemu; KubeVirt's virt-launcher converter), booting the test
// guest's kernel in place of the image. Both run in a private network
// namespace (netnsDaemon), which holds the bridge and the tap they use.

const novaUUID = "6f0a7d5e-0b4e-4f5c-9a3b-1c2d3e4f5a6b"

func novaXML(kernel, initrd, disk, logFile string) string {
	return fmt.Sprintf(`<domain type="qemu">
  <uuid>%[5]s</uuid>
  <name>instance-00000001</name>
  <memory>262144</memory>
  <vcpu>1</vcpu>
  <metadata>
    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
      <nova:package version="27.1.0"/>
      <nova:name>shaped</nova:name>
      <nova:creationTime>2026-12-07 08:00:00</nova:creationTime>
      <nova:flavor name="m1.tiny">
        <nova:memory>256</nova:memory>
        <nova:disk>1</nova:disk>
        <nova:swap>0</nova:swap>
        <nova:ephemeral>0</nova:ephemeral>
        <nova:vcpus>1</nova:vcpus>
      </nova:flavor>
      <nova:owner>
        <nova:user uuid="0b1e2c3d4e5f60718293a4b5c6d7e8f9">admin</nova:user>
        <nova:project uuid="1a2b3c4d5e6f708192a3b4c5d6e7f809">admin</nova:project>
      </nova:owner>
      <nova:root type="image" uuid="2c3d4e5f-6071-8293-a4b5-c6d7e8f90a1b"/>
      <nova:ports>
        <nova:port uuid="3d4e5f60-7182-93a4-b5c6-d7e8f90a1b2c">
          <nova:ip type="fixed" address="10.0.0.5" ipVersion="4"/>
        </nova:port>
      </nova:ports>
    </nova:instance>
  </metadata>
  <sysinfo type="smbios">
    <system>
      <entry name="manufacturer">OpenStack Foundation</entry>
      <entry name="product">OpenStack Nova</entry>
      <entry name="version">27.1.0</entry>
      <entry name="serial">%[5]s</entry>
      <entry name="uuid">%[5]s</entry>
      <entry name="family">Virtual Machine</entry>
    </system>
  </sysinfo>
  <os>
    <type machine="q35">hvm</type>
    <kernel>%[1]s</kernel>
    <initrd>%[2]s</initrd>
    <cmdline>%[6]s</cmdline>
    <smbios mode="sysinfo"/>
  </os>
  <features>
    <acpi/>
    <apic/>
    <vmcoreinfo/>
  </features>
  <cputune>
    <shares>1024</shares>
  </cputune>
  <clock offset="utc">
    <timer name="pit" tickpolicy="delay"/>
    <timer name="rtc" tickpolicy="catchup"/>
    <timer name="hpet" present="no"/>
  </clock>
  <cpu mode="host-model" match="exact">
    <topology sockets="1" cores="1" threads="1"/>
  </cpu>
  <devices>
    <disk type="file" device="disk">
      <driver name="qemu" type="qcow2" cache="none"/>
      <source file="%[3]s"/>
      <target bus="virtio" dev="vda"/>
    </disk>
    <interface type="bridge">
      <mac address="fa:16:3e:12:34:56"/>
      <model type="virtio"/>
      <driver name="qemu"/>
      <source bridge="brq-nova"/>
      <mtu size="1450"/>
      <target dev="tap3d4e5f60-71"/>
    </interface>
    <serial type="pty">
      <log file="%[4]s" append="off"/>
    </serial>
    <input type="tablet" bus="usb"/>
    <graphics type="vnc" autoport="yes" listen="127.0.0.1"/>
    <video>
      <model type="virtio"/>
    </video>
    <memballoon model="virtio">
      <stats period="10"/>
    </memballoon>
    <rng model="virtio">
      <backend model="random">/dev/urandom</backend>
    </rng>
    <controller type="usb" index="0"/>
    <controller type="pci" index="0" model="pcie-root"/>
    <controller type="pci" model="pcie-root-port"/>
    <controller type="pci" model="pcie-root-port"/>
    <controller type="pci" model="pcie-root-port"/>
    <controller type="pci" model="pcie-root-port"/>
  </devices>
</domain>
`, kernel, initrd, disk, logFile, novaUUID, testguest.Cmdline)
}

// TestShapedNova: a Nova instance (host-model CPU, SMBIOS sysinfo,
// vmcoreinfo, cputune shares, balloon stats period, virtio RNG, a pty
// serial logged to a file, a bridge NIC with an MTU, Nova's metadata)
// starts under TCG; the guest sees Nova's SMBIOS strings and the MTU,
// its console reaches the log file, and the host side is as asked.
func TestShapedNova(t *testing.T) {
	needQEMU(t)
	d, ns := netnsDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	if out, err := inNetns(ns, "sh", "-c", "ip link add brq-nova type bridge && ip link set brq-nova up"); err != nil {
		t.Fatalf("bridge: %v %s", err, out)
	}
	kernel, initrd := testguest.Ensure(t)
	dir := t.TempDir()
	disk := qcow2Disk(t, dir, "disk")
	logFile := filepath.Join(dir, "console.log")
	path := writeTemp(t, "nova.xml", novaXML(kernel, initrd, disk, logFile))
	mustVirsh(t, uri, "define "+path)
	mustVirsh(t, uri, "start instance-00000001")
	waitState(t, d, "instance-00000001", "running (booted)", 30*time.Second)
	live := mustVirsh(t, uri, "dumpxml instance-00000001")
	pty := regexp.MustCompile(`<serial type='pty'>\s*<source path='(/dev/pts/\d+)'/>`).FindStringSubmatch(live)
	if pty == nil {
		t.Fatalf("no pty in the live XML:\n%s", live)
	}
	hostModelStarted(t, d, uri, live, path)
	for _, want := range []string{"<shares>1024</shares>", "<vmcoreinfo state='on'/>", "<stats period='10'/>",
		"<mtu size='1450'/>", "<target dev='tap3d4e5f60-71'/>", "<nova:flavor name=\"m1.tiny\">"} {
		if !strings.Contains(live, want) {
			t.Errorf("live XML lacks %q:\n%s", want, live)
		}
	}

	// The boot shows in the log file; commands go through virsh console
	// (govirtd owns the pty: it logs it and serves the console stream).
	waitFileHas(t, logFile, testguest.ReadyMarker, bootTimeout())
	inGuest := func(cmd, want string) {
		t.Helper()
		typed := `echo "@@""R=$(` + cmd + ` 2>&1 | tr '\n' ' ')"`
		out, rc := virshConsole(t, uri, typed, "@@R="+want, "console", "instance-00000001", "--force")
		if rc != 0 || !strings.Contains(out, "@@R="+want) {
			t.Errorf("guest %q: want %q; virsh console rc %d:\n%s", cmd, want, rc, out)
		}
	}
	inGuest("cd /sys/class/dmi/id && cat sys_vendor product_name product_version product_serial product_family product_uuid",
		"OpenStack Foundation OpenStack Nova 27.1.0 "+novaUUID+" Virtual Machine "+novaUUID+" ")
	inGuest("cat /sys/class/net/e*/mtu", "1450 ")
	if st, err := os.Stat(pty[1]); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("serial pty %s: %v", pty[1], err)
	}
	if out, err := inNetns(ns, "ip", "-o", "link", "show", "tap3d4e5f60-71"); err != nil || !strings.Contains(out, "mtu 1450") || !strings.Contains(out, "master brq-nova") {
		t.Errorf("tap on the host: %v %s", err, out)
	}
	if p := qomGet(t, uri, "instance-00000001", "/machine/peripheral/balloon0", "guest-stats-polling-interval"); p != float64(10) {
		t.Errorf("balloon stats period %v, want 10", p)
	}
	qtree := hmp(t, uri, "instance-00000001", "info qtree")
	// vmcoreinfo sits on no bus, so info qtree does not list it.
	if devs := strings.Join(optionValues(qemuArgv(t, d, "instance-00000001"), "-device"), "\n"); !strings.Contains(devs, `"driver":"vmcoreinfo"`) {
		t.Errorf("no vmcoreinfo device:\n%s", devs)
	}
	for _, want := range []string{`dev: virtio-rng-pci, id "rng0"`, `dev: virtio-net-pci, id "net0"`, "host_mtu = 1450"} {
		if !strings.Contains(qtree, want) {
			t.Errorf("QEMU lacks %q", want)
		}
	}
	sameOptionsAsLibvirtd(t, d, path, "-machine", "-accel", "-cpu", "-smbios", "-rtc", "-global", "-no-hpet")
	mustVirsh(t, uri, "destroy instance-00000001")
	mustVirsh(t, uri, "undefine instance-00000001")
}

const kubevirtUUID = "5b8e2f4a-3c1d-4e6f-8a9b-0c1d2e3f4a5b"

func kubevirtXML(kernel, initrd, disk, priv string) string {
	return fmt.Sprintf(`<domain type="qemu" xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0">
  <name>default_testvmi</name>
  <uuid>%[5]s</uuid>
  <memory unit="b">268435456</memory>
  <os>
    <type arch="x86_64" machine="q35">hvm</type>
    <kernel>%[1]s</kernel>
    <initrd>%[2]s</initrd>
    <cmdline>%[6]s</cmdline>
    <smbios mode="sysinfo"/>
  </os>
  <sysinfo type="smbios">
    <system>
      <entry name="uuid">%[5]s</entry>
      <entry name="manufacturer">KubeVirt</entry>
      <entry name="family">KubeVirt</entry>
      <entry name="product">None</entry>
      <entry name="sku"></entry>
      <entry name="version"></entry>
    </system>
    <bios></bios>
    <baseBoard></baseBoard>
    <chassis></chassis>
  </sysinfo>
  <devices>
    <interface type="ethernet">
      <mac address="02:42:ac:11:00:02"/>
      <model type="virtio-non-transitional"/>
      <target dev="tap0" managed="no"/>
      <mtu size="1480"/>
      <alias name="ua-default"/>
      <rom enabled="no"/>
    </interface>
    <channel type="unix">
      <target name="org.qemu.guest_agent.0" type="virtio"/>
    </channel>
    <controller type="usb" index="0" model="none"/>
    <controller type="scsi" index="0" model="virtio-non-transitional"/>
    <controller type="virtio-serial" index="0" model="virtio-non-transitional"/>
    <video>
      <model type="vga" heads="1" vram="16384"/>
    </video>
    <graphics type="vnc">
      <listen type="socket" socket="%[4]s/virt-vnc"/>
    </graphics>
    <memballoon model="virtio-non-transitional" freePageReporting="on">
      <stats period="10"/>
    </memballoon>
    <disk device="disk" type="file" model="virtio-non-transitional">
      <source file="%[3]s"/>
      <target bus="virtio" dev="vda"/>
      <driver cache="none" error_policy="stop" name="qemu" type="qcow2" discard="unmap" iothread="1"/>
      <alias name="ua-containerdisk"/>
    </disk>
    <serial type="unix">
      <target port="0"/>
      <source mode="bind" path="%[4]s/virt-serial0"/>
      <log file="%[4]s/virt-serial0-log" append="on"/>
    </serial>
    <console type="pty">
      <target type="serial" port="0"/>
    </console>
    <rng model="virtio-non-transitional">
      <backend model="random">/dev/urandom</backend>
    </rng>
  </devices>
  <clock offset="utc"/>
  <resource>
    <partition>/machine</partition>
  </resource>
  <metadata>
    <kubevirt xmlns="http://kubevirt.io">
      <uid>7c9d0e1f-2a3b-4c5d-6e7f-8091a2b3c4d5</uid>
      <graceperiod>
        <deletionGracePeriodSeconds>30</deletionGracePeriodSeconds>
      </graceperiod>
    </kubevirt>
  </metadata>
  <features>
    <acpi/>
  </features>
  <cpu mode="host-model">
    <topology sockets="1" cores="1" threads="1"/>
  </cpu>
  <vcpu placement="static">1</vcpu>
  <iothreads>1</iothreads>
</domain>
`, kernel, initrd, disk, priv, kubevirtUUID, testguest.Cmdline)
}

// TestShapedKubeVirt: a KubeVirt VMI (host-model, virtio-non-transitional
// models, an iothread for the disk, a unix serial with a log, VNC on a
// unix socket, an ethernet NIC on a tap the launcher made (managed='no'),
// the guest agent channel) starts under TCG; the guest sees modern-only
// virtio devices, the MTU, KubeVirt's SMBIOS strings and the agent port.
func TestShapedKubeVirt(t *testing.T) {
	needQEMU(t)
	d, ns := netnsDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	// virt-launcher's tap, made before the domain is defined.
	if out, err := inNetns(ns, "sh", "-c", "ip tuntap add dev tap0 mode tap && ip link set tap0 mtu 1480 up"); err != nil {
		t.Fatalf("tap: %v %s", err, out)
	}
	kernel, initrd := testguest.Ensure(t)
	priv := filepath.Join(d.dir, "kv")
	os.MkdirAll(priv, 0o755)
	disk := qcow2Disk(t, t.TempDir(), "disk.qcow2")
	path := writeTemp(t, "kubevirt.xml", kubevirtXML(kernel, initrd, disk, priv))
	mustVirsh(t, uri, "define "+path)
	mustVirsh(t, uri, "start default_testvmi")
	waitState(t, d, "default_testvmi", "running (booted)", 30*time.Second)
	live := mustVirsh(t, uri, "dumpxml default_testvmi")
	hostModelStarted(t, d, uri, live, path)
	// (the target's attributes stay in KubeVirt's order)
	agent := regexp.MustCompile(`<channel type='unix'>\s*<source mode='bind' path='([^']+)'/>\s*<target [^>]*name='org.qemu.guest_agent.0'`).FindStringSubmatch(live)
	if agent == nil {
		t.Errorf("no agent socket in the live XML:\n%s", live)
	} else if st, err := os.Stat(agent[1]); err != nil || st.Mode()&os.ModeSocket == 0 {
		t.Errorf("agent socket %s: %v", agent[1], err)
	}
	// VNC on its unix socket speaks RFB.
	if c, err := net.Dial("unix", filepath.Join(priv, "virt-vnc")); err != nil {
		t.Errorf("VNC socket: %v", err)
	} else {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 12)
		if n, _ := c.Read(buf); !strings.HasPrefix(string(buf[:n]), "RFB 003.008") {
			t.Errorf("VNC socket said %q", buf[:n])
		}
		c.Close()
	}

	con := bootShell(t, d, filepath.Join(priv, "virt-serial0"))
	waitFileHas(t, filepath.Join(priv, "virt-serial0-log"), testguest.ReadyMarker, 10*time.Second)
	if dmi := guestRun(t, con, "cd /sys/class/dmi/id && cat sys_vendor product_family product_name product_uuid"); dmi != "KubeVirt KubeVirt None "+kubevirtUUID {
		t.Errorf("guest SMBIOS %q", dmi)
	}
	if mtu := guestRun(t, con, "cat /sys/class/net/e*/mtu"); mtu != "1480" {
		t.Errorf("guest NIC MTU %q, want 1480", mtu)
	}
	// Non-transitional: only modern virtio device ids (0x1040 + type).
	ids := guestRun(t, con, "cd /sys/bus/pci/devices && for d in *; do [ $(cat $d/vendor) = 0x1af4 ] && cat $d/device; done | sort | tr '\\n' ' '")
	for _, want := range []string{"0x1041", "0x1042", "0x1043", "0x1044", "0x1045", "0x1048"} { // net blk console rng balloon scsi
		if !strings.Contains(ids, want) {
			t.Errorf("guest virtio devices %q lack %s", ids, want)
		}
	}
	if regexp.MustCompile(`0x10[0-3][0-9a-f]`).MatchString(ids) {
		t.Errorf("transitional virtio devices in the guest: %q", ids)
	}
	if ports := guestRun(t, con, "cat /sys/class/virtio-ports/*/name"); !strings.Contains(ports, "org.qemu.guest_agent.0") {
		t.Errorf("guest virtio ports %q", ports)
	}
	// The test guest runs qemu-ga on that port: the agent connects.
	waitAgent(t, uri, "default_testvmi", "connected", 60*time.Second)
	mustVirsh(t, uri, "domtime default_testvmi")
	if blk := guestRun(t, con, "ls /sys/block"); !strings.Contains(blk, "vda") {
		t.Errorf("guest block devices %q", blk)
	}
	var its struct{ Return []struct{ ID string } }
	qmpJSON(t, uri, "default_testvmi", "query-iothreads", &its)
	if len(its.Return) != 1 || its.Return[0].ID != "iothread1" {
		t.Errorf("iothreads %+v", its.Return)
	}
	qtree := hmp(t, uri, "default_testvmi", "info qtree")
	if it := qomGet(t, uri, "default_testvmi", "/machine/peripheral/ua-containerdisk", "iothread"); it != "/objects/iothread1" {
		t.Errorf("disk iothread %v", it)
	}
	for _, want := range []string{"free-page-reporting = true", "host_mtu = 1480"} {
		if !strings.Contains(qtree, want) {
			t.Errorf("QEMU lacks %q", want)
		}
	}
	if out, err := exec.Command("ip", "netns", "exec", ns, "ip", "-o", "link", "show", "tap0").CombinedOutput(); err != nil || !strings.Contains(string(out), "state UP") && !strings.Contains(string(out), "LOWER_UP") {
		t.Errorf("tap0 after start: %v %s", err, out)
	}
	sameOptionsAsLibvirtd(t, d, path, "-machine", "-accel", "-cpu", "-smbios", "-object", "-blockdev", "-device")
	mustVirsh(t, uri, "destroy default_testvmi")
	// An unmanaged tap is the launcher's: it stays.
	if _, err := inNetns(ns, "ip", "link", "show", "tap0"); err != nil {
		t.Errorf("tap0 removed with the guest")
	}
	mustVirsh(t, uri, "undefine default_testvmi")
}

// hostModelStarted checks a host-model guest runs QEMU with the named
// model and features libvirtd's command line has for the definition (its
// expansion of QEMU's max CPU under TCG), not a bare max or host CPU.
// As libvirt, the live XML names the custom model it started, with
// check='full' (qemuProcessUpdateLiveGuestCPU).
func hostModelStarted(t *testing.T, d *daemon, uri, live, file string) {
	t.Helper()
	if !strings.Contains(live, "<cpu mode='custom' match='exact' check='full'>") {
		t.Errorf("host-model guest's live <cpu> is not the custom CPU it started:\n%s", liveCPUElem(live))
	}
	name := regexp.MustCompile(`<name>([^<]+)</name>`).FindStringSubmatch(live)[1]
	cpu := optionValues(qemuArgv(t, d, name), "-cpu")
	if len(cpu) != 1 || strings.HasPrefix(cpu[0], "max") || strings.HasPrefix(cpu[0], "host") || !strings.Contains(cpu[0], "=on") {
		t.Errorf("host-model started as -cpu %q", cpu)
	}
	if !libvirtdUp() {
		return
	}
	lv, errOut := nativeArgv(t, libvirtdURI, file)
	if errOut != "" {
		t.Errorf("libvirtd domxml-to-native: %s", errOut)
		return
	}
	words := shellWords(lv)
	if want := optionValues(words, "-cpu"); len(cpu) == 1 && (len(want) != 1 || want[0] != cpu[0]) {
		t.Errorf("host-model: -cpu %q, libvirtd %q", cpu, want)
	}
}

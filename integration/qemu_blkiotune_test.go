package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestQEMUBlkdeviotune drives virsh blkdeviotune on a running guest's
// disk: limits reach QEMU (query-block shows them), the live and
// persistent <iotune> record them separately, a family given replaces
// the whole family while others keep their values, a group is named,
// zero lifts the throttling, and libvirt's checks refuse what it refuses.
func TestQEMUBlkdeviotune(t *testing.T) {
	needQEMU(t)
	d := startClientsDaemon(t)
	uri := d.URI("qemu")
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(disk, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Truncate(disk, 16<<20)
	xml := testGuestXML(t, "iot", "", fmt.Sprintf(`    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='%s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
`, disk))
	path := filepath.Join(dir, "iot.xml")
	os.WriteFile(path, []byte(xml), 0o644)
	mustVirsh(t, uri, "define "+path)
	mustVirsh(t, uri, "start iot")
	inserted := func() string {
		out := mustVirsh(t, uri, `qemu-monitor-command iot '{"execute":"query-block"}'`)
		i := strings.Index(out, `"qdev":"/machine/peripheral/virtio-disk0/virtio-backend"`)
		if i < 0 {
			t.Fatalf("query-block has no virtio-disk0: %s", out)
		}
		return out
	}
	param := func(out, name string) string {
		m := regexp.MustCompile(`(?m)^` + name + `\s*: (\S+)$`).FindStringSubmatch(out)
		if m == nil {
			return ""
		}
		return m[1]
	}
	if out := mustVirsh(t, uri, "blkdeviotune iot vda"); param(out, "total_bytes_sec") != "0" || param(out, "group_name") != "" && param(out, "write_iops_sec_max_length") != "0" {
		t.Errorf("blkdeviotune before:\n%s", out)
	}
	mustVirsh(t, uri, "blkdeviotune iot vda --total-bytes-sec 1000000 --read-iops-sec 200 --live")
	if q := inserted(); !strings.Contains(q, `"bps":1000000`) || !strings.Contains(q, `"iops_rd":200`) {
		t.Errorf("QEMU's throttle after blkdeviotune:\n%s", q)
	}
	out := mustVirsh(t, uri, "blkdeviotune iot vda")
	if param(out, "total_bytes_sec") != "1000000" || param(out, "read_iops_sec") != "200" {
		t.Errorf("blkdeviotune live:\n%s", out)
	}
	if x := mustVirsh(t, uri, "dumpxml iot"); !strings.Contains(x, "<iotune>\n        <total_bytes_sec>1000000</total_bytes_sec>\n        <read_iops_sec>200</read_iops_sec>\n      </iotune>") {
		t.Errorf("live XML:\n%s", x)
	}
	if x := mustVirsh(t, uri, "dumpxml --inactive iot"); strings.Contains(x, "<iotune>") {
		t.Errorf("a live change reached the persistent definition:\n%s", x)
	}
	// One family changes, the other keeps its value.
	mustVirsh(t, uri, "blkdeviotune iot vda --write-iops-sec 50 --group-name grp")
	out = mustVirsh(t, uri, "blkdeviotune iot vda")
	if param(out, "total_bytes_sec") != "1000000" || param(out, "read_iops_sec") != "0" || param(out, "write_iops_sec") != "50" || param(out, "group_name") != "grp" {
		t.Errorf("blkdeviotune after changing the iops family:\n%s", out)
	}
	if q := inserted(); !strings.Contains(q, `"iops_wr":50`) || !strings.Contains(q, `"group":"grp"`) {
		t.Errorf("QEMU's throttle after the second change:\n%s", q)
	}
	for cmd, want := range map[string]string{
		"blkdeviotune iot vda --total-bytes-sec 5 --read-bytes-sec 5": "error: invalid argument: total and read/write of bytes_sec cannot be set at the same time",
		"blkdeviotune iot vda --total-bytes-sec-max 10":               "error: unsupported configuration: value 'total_bytes_sec_max' cannot be smaller than 'total_bytes_sec'",
		"blkdeviotune iot vda --read-bytes-sec-max 10":                "error: unsupported configuration: value 'read_bytes_sec_max' cannot be set if 'read_bytes_sec' is not set",
		"blkdeviotune iot vdz --total-bytes-sec 5":                    "error: invalid argument: disk 'vdz' not found in domain",
	} {
		if _, e, rc := virsh(t, uri, cmd); rc == 0 || !strings.Contains(e, want) {
			t.Errorf("%s: rc=%d %q, want %q", cmd, rc, e, want)
		}
	}
	mustVirsh(t, uri, "blkdeviotune iot vda --total-iops-sec 30 --config")
	if x := mustVirsh(t, uri, "dumpxml --inactive iot"); !strings.Contains(x, "<total_iops_sec>30</total_iops_sec>") {
		t.Errorf("persistent XML:\n%s", x)
	}
	if out := mustVirsh(t, uri, "blkdeviotune iot vda --config"); param(out, "total_iops_sec") != "30" || param(out, "total_bytes_sec") != "0" {
		t.Errorf("blkdeviotune --config:\n%s", out)
	}
	// Zero everywhere lifts the throttling and leaves the group.
	mustVirsh(t, uri, "blkdeviotune iot vda --total-bytes-sec 0 --write-iops-sec 0")
	if q := inserted(); !strings.Contains(q, `"bps":0,`) || !strings.Contains(q, `"iops_wr":0,`) {
		t.Errorf("QEMU's throttle after the reset:\n%s", q)
	}
	if x := mustVirsh(t, uri, "dumpxml iot"); strings.Contains(x, "<iotune>") {
		t.Errorf("live XML keeps <iotune> after the reset:\n%s", x)
	}
	mustVirsh(t, uri, "destroy iot")
	// The persistent throttle applies at the next start.
	mustVirsh(t, uri, "start iot")
	if q := inserted(); !strings.Contains(q, `"iops":30`) {
		t.Errorf("QEMU's throttle after restart:\n%s", q)
	}
	mustVirsh(t, uri, "destroy iot")
}

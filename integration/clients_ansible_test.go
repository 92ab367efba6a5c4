package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAnsibleCommunityLibvirt runs a playbook of Ansible's
// community.libvirt modules (virt, virt_net and virt_pool, as Debian's
// ansible package bundles them) against govirtd's QEMU driver: a
// directory pool defined, built, started, set to autostart, refreshed and
// read back as facts, then deleted; a NAT network defined, started,
// modified with a DHCP host and read back; a guest defined, started,
// paused, resumed, listed, destroyed and undefined. The playbook's
// asserts check what each step changed.
func TestAnsibleCommunityLibvirt(t *testing.T) {
	needQEMU(t)
	needTool(t, "ansible-playbook", "ansible")
	if _, err := os.Stat("/usr/lib/python3/dist-packages/ansible_collections/community/libvirt"); err != nil {
		t.Skip("community.libvirt collection not installed (Debian package ansible)")
	}
	d := startClientsDaemon(t)
	dir := t.TempDir()
	poolDir := filepath.Join(dir, "pool")
	files := map[string]string{
		"guest.xml": testGuestXML(t, "ansguest", "", "    <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>\n"),
		"net.xml": `<network>
  <name>ansnet</name>
  <bridge name='ansbr0'/>
  <forward mode='nat'/>
  <ip address='192.168.213.1' netmask='255.255.255.0'>
    <dhcp><range start='192.168.213.100' end='192.168.213.200'/></dhcp>
  </ip>
</network>
`,
		"pool.xml": fmt.Sprintf("<pool type='dir'>\n  <name>anspool</name>\n  <target><path>%s</path></target>\n</pool>\n", poolDir),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	uri := d.URI("qemu")
	t.Cleanup(func() {
		// A failed run leaves its objects; remove them so the bridge and
		// its firewall rules go.
		virsh(t, uri, "net-destroy ansnet")
		virsh(t, uri, "net-undefine ansnet")
		virsh(t, uri, "pool-destroy anspool")
		virsh(t, uri, "pool-undefine anspool")
	})
	out, rc := runTool(t, 5*time.Minute, []string{"LC_ALL=C.UTF-8", "ANSIBLE_NOCOLOR=1", "ANSIBLE_LOCAL_TEMP=" + filepath.Join(dir, "ansible-tmp"),
		"ANSIBLE_HOME=" + filepath.Join(dir, "ansible-home"), "ANSIBLE_RETRY_FILES_ENABLED=0"},
		"ansible-playbook", "-i", "localhost,", "testdata/ansible/playbook.yml",
		"-e", "uri="+uri, "-e", "guest_xml="+filepath.Join(dir, "guest.xml"),
		"-e", "net_xml="+filepath.Join(dir, "net.xml"), "-e", "pool_xml="+filepath.Join(dir, "pool.xml"),
		"-e", "pool_dir="+poolDir)
	if rc != 0 || !strings.Contains(out, "failed=0") {
		t.Fatalf("ansible-playbook rc=%d\n%s\ndaemon log:\n%s", rc, out, d.Log())
	}
	if _, err := os.Stat(poolDir); !os.IsNotExist(err) {
		t.Errorf("pool delete left %s (%v)", poolDir, err)
	}
}

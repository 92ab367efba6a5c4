package qemu

import (
	"os"
	"path/filepath"
)

// defaultNetworkFile is where Debian's libvirt-daemon-config-network
// keeps the 'default' network; defaultNetworkXML is its content
// (libvirt's src/network/default.xml.in), used when the file is absent.
const defaultNetworkFile = "/usr/share/libvirt/networks/default.xml"

const defaultNetworkXML = `<network>
  <name>default</name>
  <bridge name='virbr0'/>
  <forward/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
`

// DefineDefaultNetwork defines libvirt's 'default' network (NAT on virbr0,
// 192.168.122.0/24), not started, at the driver's first start: when its
// network directory does not exist yet and so no network is defined, as
// Debian's package does at installation. A user who undefines it later
// does not get it back. Config.DefaultNetwork false turns this off.
func (d *Driver) DefineDefaultNetwork() {
	if !d.cfg.DefaultNetwork {
		return
	}
	if _, err := os.Stat(filepath.Join(d.cfg.StateDir, "network")); err == nil || !os.IsNotExist(err) {
		return
	}
	if nets, err := d.networks().ListAllNetworks(0); err != nil || len(nets) > 0 {
		return
	}
	doc := defaultNetworkXML
	if b, err := os.ReadFile(defaultNetworkFile); err == nil {
		doc = string(b)
	}
	if _, err := d.networks().NetworkDefineXML(doc, 0); err != nil {
		d.log.Warn("cannot define the default network", "err", err)
	}
}

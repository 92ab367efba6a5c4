package test

// defaultNodeXML is libvirt's defaultConnXML, the content of every fresh
// test:///default (its node devices are in nodedev_defaults.go). The network's and the host interface's
// children are listed in the order libvirt formats them, since conf keeps
// the order documents are written in; the content is libvirt's.
const defaultNodeXML = `<node>
<domain type='test'>
  <name>test</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory>8388608</memory>
  <currentMemory>2097152</currentMemory>
  <vcpu>2</vcpu>
  <os>
    <type>hvm</type>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/diskimage1'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </disk>
    <interface type='network'>
      <mac address='aa:bb:cc:dd:ee:ff'/>
      <source network='default' bridge='virbr0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x1' function='0x0'/>
    </interface>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x2' function='0x0'/>
    </memballoon>
  </devices>
</domain>
<network>
  <name>default</name>
  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
  <forward/>
  <bridge name='virbr0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
<interface type="ethernet" name="eth1">
  <start mode="onboot"/>
  <mtu size="1492"/>
  <protocol family="ipv4">
    <ip address="192.168.0.5" prefix="24"/>
    <route gateway="192.168.0.1"/>
  </protocol>
  <mac address="aa:bb:cc:dd:ee:ff"/>
</interface>
<pool type='dir'>
  <name>default-pool</name>
  <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>
  <target>
    <path>/default-pool</path>
  </target>
</pool>
</node>`

// defaultCells is the NUMA layout of test:///default: two cells of eight
// CPUs, 2 and 4 GiB, 1 and 2 GiB free.
func defaultCells() []cell {
	return []cell{
		{cpus: 8, mem: 2048 * 1024, freeMem: 1024 * 1024},
		{cpus: 8, mem: 2 * 2048 * 1024, freeMem: 2 * 1024 * 1024},
	}
}

func newDefaultInstance() (*instance, error) {
	in := newInstance()
	in.node = defaultNodeInfo
	in.cells = defaultCells()
	in.capsXML = buildCapabilities(in.cells)
	if err := in.loadNode([]byte(defaultNodeXML), ""); err != nil {
		return nil, err
	}
	if err := in.loadDefaultNodeDevices(); err != nil {
		return nil, err
	}
	return in, nil
}

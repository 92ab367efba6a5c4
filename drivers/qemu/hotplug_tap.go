package qemu

import (
	"encoding/json"
	"fmt"

	"govirt/conf"
	"govirt/drivers/qemu/command"
	"govirt/qmp"
)

// hotplugNetdevArgs is the netdev_add of a NIC being hot-plugged. The tap
// of an ethernet, bridge or network NIC is made here, set up and joined
// to its bridge as at start, and its descriptors (and vhost-net's for a
// virtio NIC) go to QEMU with getfd, as libvirt's
// qemuDomainAttachNetDevice: QEMU in its own mount namespace has no
// /dev/net/tun to open, and as an unprivileged user could not create a
// tap anyway. tapReady says the tap is up and in its bridge already. The
// daemon's copies of the descriptors are closed before it returns: QEMU
// holds its own, and the tap goes when QEMU (or netdev_del) lets go.
func hotplugNetdevArgs(live *conf.Domain, qc command.Caps, mon monitor, n *conf.Interface) (args json.RawMessage, tapReady bool, err error) {
	fm, ok := mon.(fdMonitor)
	if !ok || (n.Type != "ethernet" && n.Type != "bridge" && n.Type != "network") {
		return command.NetdevAdd(n), false, nil
	}
	files := &passedFiles{}
	defer func() {
		for _, f := range files.files {
			if f != nil {
				f.Close()
			}
		}
	}()
	p := command.Paths{OpenTap: openTap(files, ""), OpenVhostNet: openVhostNet(files)}
	taps, vhost, err := command.HotplugTapFDs(live, n, qc, p)
	if err != nil {
		return nil, false, err
	}
	ctx := hotplugCtx()
	var sent []string
	send := func(fds []int, kind string) ([]string, error) {
		var names []string
		for i, fd := range fds {
			name := fmt.Sprintf("host%s-%s%d", n.Alias, kind, i)
			if err := qmp.Getfd(ctx, fm, name, files.files[fd-monitorFD-1]); err != nil {
				return nil, qmpError(err)
			}
			sent = append(sent, name)
			names = append(names, name)
		}
		return names, nil
	}
	tapNames, err := send(taps, "tap")
	var vhostNames []string
	if err == nil {
		vhostNames, err = send(vhost, "vhost")
	}
	if err == nil {
		args, err = command.NetdevAddNamed(n, tapNames, vhostNames)
	}
	if err != nil {
		for _, name := range sent {
			_ = mon.Execute(ctx, "closefd", map[string]string{"fdname": name}, nil)
		}
		return nil, false, err
	}
	return args, true, nil
}

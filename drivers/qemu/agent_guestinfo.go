package qemu

import (
	"encoding/json"
	"fmt"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/qemu/agent"
	"govirt/virerr"
)

// virDomainGuestInfoTypes.
const (
	guestInfoUsers      = 1 << 0
	guestInfoOS         = 1 << 1
	guestInfoTimezone   = 1 << 2
	guestInfoHostname   = 1 << 3
	guestInfoFilesystem = 1 << 4
	guestInfoDisks      = 1 << 5
	guestInfoInterfaces = 1 << 6
	guestInfoAll        = 1<<7 - 1
)

// agentDiskAddr is qemu-ga's GuestDiskAddress.
type agentDiskAddr struct {
	PCIRaw  json.RawMessage `json:"pci-controller"`
	BusType string          `json:"bus-type"`
	Bus     *uint           `json:"bus"`
	Target  *uint           `json:"target"`
	Unit    *uint           `json:"unit"`
	Serial  *string         `json:"serial"`
	Dev     *string         `json:"dev"`
}

// pciAddr is the pci-controller member.
type pciAddr struct {
	Domain   *uint `json:"domain"`
	Bus      *uint `json:"bus"`
	Slot     *uint `json:"slot"`
	Function *uint `json:"function"`
}

// check is qemuAgentGetDiskAddress's validation.
func (a *agentDiskAddr) check() (pciAddr, error) {
	missing := func(n string) error { return errQEMU(virerr.ErrInternalError, "'%s' missing", n) }
	switch {
	case a.Bus == nil:
		return pciAddr{}, missing("bus")
	case a.Target == nil:
		return pciAddr{}, missing("target")
	case a.Unit == nil:
		return pciAddr{}, missing("unit")
	case a.PCIRaw == nil:
		return pciAddr{}, errQEMU(virerr.ErrInternalError, "'pci-controller' missing")
	}
	var p pciAddr
	_ = json.Unmarshal(a.PCIRaw, &p)
	for _, f := range []struct {
		v *uint
		n string
	}{{p.Domain, "domain"}, {p.Bus, "bus"}, {p.Slot, "slot"}, {p.Function, "function"}} {
		if f.v == nil {
			return p, missing(f.n)
		}
	}
	return p, nil
}

// diskByAgentAddress is virDomainDiskByAddress for a PCI controller
// address: a disk that is that PCI device (virtio-blk), or a drive-
// addressed disk on the controller that is.
func diskByAgentAddress(def *conf.Domain, p pciAddr, bus, target, unit uint) *conf.Disk {
	if def == nil {
		return nil
	}
	isPCI := func(a conf.Address) bool {
		return a.Type == "pci" && a.Domain == *p.Domain && a.Bus == *p.Bus && a.Slot == *p.Slot && a.Function == *p.Function
	}
	var ctl *conf.Controller
	for _, c := range def.Devices.Controllers {
		if isPCI(c.Address) {
			ctl = c
			break
		}
	}
	for _, d := range def.Devices.Disks {
		a := d.Address
		if isPCI(a) {
			return d
		}
		if a.Type == "drive" && ctl != nil && controllerMatchesBus(ctl.Type, d.TargetBus) &&
			a.Controller == uint(ctl.Index) && a.Bus == bus && a.Target == target && a.Unit == unit {
			return d
		}
	}
	return nil
}

// controllerMatchesBus is virDomainDiskControllerMatch: scsi, fdc, ide
// and sata controllers hold disks of their own bus.
func controllerMatchesBus(ctlType, bus string) bool {
	switch ctlType {
	case "scsi", "fdc", "ide", "sata":
		return ctlType == bus
	}
	return false
}

// agentFS is one file system of guest-get-fsinfo, with libvirt's checks.
type agentFS struct {
	Name, Mountpoint, Type string
	Used, Total            *uint64
	Disks                  []agentDiskAddr
	pci                    []pciAddr
}

// agentGetFSInfo is qemuAgentGetFSInfo, in mount order (the agent's
// list reversed). With reportUnsupported false an agent without the
// command gives nil, nil.
func agentGetFSInfo(c *conn, ag *agent.Agent, reportUnsupported bool) ([]agentFS, error) {
	var raw json.RawMessage
	if err := ag.Command(c.waitCtx(), "guest-get-fsinfo", nil, &raw); err != nil {
		if !reportUnsupported && unsupportedCmd(err) {
			return nil, nil
		}
		return nil, agentErr(err)
	}
	var list []map[string]json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return nil, errQEMU(virerr.ErrInternalError, "Malformed guest-get-fsinfo data array")
	}
	out := make([]agentFS, 0, len(list))
	for i := len(list) - 1; i >= 0; i-- {
		e := list[i]
		var fs agentFS
		for _, f := range []struct {
			key string
			dst *string
			msg string
		}{
			{"mountpoint", &fs.Mountpoint, "'mountpoint' missing in reply of guest-get-fsinfo"},
			{"name", &fs.Name, "'name' missing in reply of guest-get-fsinfo"},
			{"type", &fs.Type, "'type' missing in reply of guest-get-fsinfo"},
		} {
			if json.Unmarshal(e[f.key], f.dst) != nil {
				return nil, errQEMU(virerr.ErrInternalError, "%s", f.msg)
			}
		}
		for _, f := range []struct {
			key string
			dst **uint64
		}{{"used-bytes", &fs.Used}, {"total-bytes", &fs.Total}} {
			if r, ok := e[f.key]; ok {
				var n uint64
				if json.Unmarshal(r, &n) != nil {
					return nil, errQEMU(virerr.ErrInternalError, "Error getting '%s' in reply of guest-get-fsinfo", f.key)
				}
				*f.dst = &n
			}
		}
		d, ok := e["disk"]
		if !ok {
			return nil, errQEMU(virerr.ErrInternalError, "'disk' missing in reply of guest-get-fsinfo")
		}
		if json.Unmarshal(d, &fs.Disks) != nil {
			return nil, errQEMU(virerr.ErrInternalError, "Malformed guest-get-fsinfo 'disk' data array")
		}
		for i := range fs.Disks {
			p, err := fs.Disks[i].check()
			if err != nil {
				return nil, err
			}
			fs.pci = append(fs.pci, p)
		}
		out = append(out, fs)
	}
	return out, nil
}

// DomainGetFSInfo is qemuDomainGetFSInfo: the agent's file systems, each
// with the targets of the guest's disks it lives on.
func (c *conn) DomainGetFSInfo(h driver.Domain, flags uint32) ([]driver.FSInfo, error) {
	if flags != 0 {
		return nil, errFlagsFn(flags, "qemuDomainGetFSInfo")
	}
	var fss []agentFS
	var v *vm
	err := c.withAgent(h, "fsinfo", true, func(vv *vm, ag *agent.Agent) error {
		v = vv
		var err error
		fss, err = agentGetFSInfo(c, ag, true)
		return err
	})
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	live, active := v.live, v.active()
	v.mu.Unlock()
	if !active {
		return nil, errNotRunning()
	}
	out := []driver.FSInfo{}
	for _, fs := range fss {
		fi := driver.FSInfo{Mountpoint: fs.Mountpoint, Name: fs.Name, Fstype: fs.Type, DevAliases: []string{}}
		for i, d := range fs.Disks {
			if disk := diskByAgentAddress(live, fs.pci[i], *d.Bus, *d.Target, *d.Unit); disk != nil {
				fi.DevAliases = append(fi.DevAliases, disk.TargetDev)
			}
		}
		out = append(out, fi)
	}
	return out, nil
}

// guestInfo collects what qemuDomainGetGuestInfo asks the agent.
type guestInfo struct {
	params []driver.TypedParam
	fss    []agentFS
	disks  []json.RawMessage
	ifaces []driver.DomainIface
}

func (g *guestInfo) add(field string, v any) {
	g.params = append(g.params, driver.TypedParam{Field: field, Value: v})
}

// DomainGetGuestInfo is qemuDomainGetGuestInfo: with no types, all the
// agent supports (commands it lacks are skipped); with types, exactly
// those, any failure being the call's.
func (c *conn) DomainGetGuestInfo(h driver.Domain, types uint32, flags uint32) ([]driver.TypedParam, error) {
	if flags != 0 {
		return nil, errFlagsFn(flags, "qemuDomainGetGuestInfo")
	}
	if types&^guestInfoAll != 0 {
		return nil, virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "unsupported guest information types '0x%x'", types&^guestInfoAll)
	}
	report := types != 0
	if types == 0 {
		types = guestInfoAll
	}
	var g guestInfo
	var v *vm
	err := c.withAgent(h, "guest info", false, func(vv *vm, ag *agent.Agent) error {
		v = vv
		return c.collectGuestInfo(ag, types, report, &g)
	})
	if err != nil {
		return nil, err
	}
	if len(g.fss) > 0 || len(g.disks) > 0 {
		v.mu.Lock()
		live, active := v.live, v.active()
		v.mu.Unlock()
		if !active {
			return nil, errNotRunning()
		}
		if len(g.fss) > 0 {
			fsParams(&g, live)
		}
		if len(g.disks) > 0 {
			if err := diskParams(&g, live); err != nil {
				return nil, err
			}
		}
	}
	if len(g.ifaces) > 0 {
		ifaceParams(&g)
	}
	return g.params, nil
}

// collectGuestInfo runs the agent commands of types in libvirt's order.
func (c *conn) collectGuestInfo(ag *agent.Agent, types uint32, report bool, g *guestInfo) error {
	ctx := c.waitCtx()
	// run is qemuAgentCommandFull with report_unsupported: false when
	// the command is unsupported and that is not to be reported.
	run := func(cmd string, reply any, missing string) (bool, error) {
		err := ag.Command(ctx, cmd, nil, reply)
		if err == nil {
			return true, nil
		}
		if !report && unsupportedCmd(err) {
			return false, nil
		}
		if _, ok := err.(*agent.MalformedError); ok && missing != "" {
			return false, errQEMU(virerr.ErrInternalError, "%s", missing)
		}
		return false, agentErr(err)
	}
	if types&guestInfoUsers != 0 {
		var users []struct {
			User      *string  `json:"user"`
			Domain    *string  `json:"domain"`
			LoginTime *float64 `json:"login-time"`
		}
		ok, err := run("guest-get-users", &users, "guest-get-users reply was missing return data")
		if err != nil {
			return err
		}
		if ok {
			g.add("user.count", uint32(len(users)))
			for i, u := range users {
				if u.User == nil {
					return errQEMU(virerr.ErrInternalError, "'user' missing in reply of guest-get-users")
				}
				g.add(fmt.Sprintf("user.%d.name", i), *u.User)
				if u.Domain != nil {
					g.add(fmt.Sprintf("user.%d.domain", i), *u.Domain)
				}
				if u.LoginTime == nil {
					return errQEMU(virerr.ErrInternalError, "'login-time' missing in reply of guest-get-users")
				}
				g.add(fmt.Sprintf("user.%d.login-time", i), uint64(*u.LoginTime*1000))
			}
		}
	}
	if types&guestInfoOS != 0 {
		var os map[string]json.RawMessage
		ok, err := run("guest-get-osinfo", &os, "guest-get-osinfo reply was missing return data")
		if err != nil {
			return err
		}
		if ok {
			for _, k := range []string{"id", "name", "pretty-name", "version", "version-id", "machine",
				"variant", "variant-id", "kernel-release", "kernel-version"} {
				var s string
				if r, has := os[k]; has && json.Unmarshal(r, &s) == nil {
					g.add("os."+k, s)
				}
			}
		}
	}
	if types&guestInfoTimezone != 0 {
		var tz struct {
			Zone   *string          `json:"zone"`
			Offset *json.RawMessage `json:"offset"`
		}
		ok, err := run("guest-get-timezone", &tz, "guest-get-timezone reply was missing return data")
		if err != nil {
			return err
		}
		if ok {
			if tz.Zone != nil {
				g.add("timezone.name", *tz.Zone)
			}
			var off int32
			if tz.Offset == nil || json.Unmarshal(*tz.Offset, &off) != nil {
				return errQEMU(virerr.ErrInternalError, "'offset' missing in reply of guest-get-timezone")
			}
			g.add("timezone.offset", off)
		}
	}
	if types&guestInfoHostname != 0 {
		var hn struct {
			HostName *string `json:"host-name"`
		}
		ok, err := run("guest-get-host-name", &hn, "malformed return value")
		if err != nil {
			return err
		}
		if ok {
			if hn.HostName == nil {
				return errQEMU(virerr.ErrInternalError, "'host-name' missing in guest-get-host-name reply")
			}
			g.add("hostname", *hn.HostName)
		}
	}
	if types&guestInfoFilesystem != 0 {
		fss, err := agentGetFSInfo(c, ag, report)
		if err != nil {
			return err
		}
		g.fss = fss
	}
	if types&guestInfoDisks != 0 {
		var disks []json.RawMessage
		_, err := run("guest-get-disks", &disks, "qemu agent didn't return an array of disks")
		if err != nil {
			return err
		}
		g.disks = disks
	}
	if types&guestInfoInterfaces != 0 {
		ifaces, err := agentGetInterfaces(c, ag, report)
		if err != nil {
			return err
		}
		g.ifaces = ifaces
	}
	return nil
}

// fsParams is qemuAgentFSInfoFormatParams.
func fsParams(g *guestInfo, def *conf.Domain) {
	g.add("fs.count", uint32(len(g.fss)))
	for i, fs := range g.fss {
		p := fmt.Sprintf("fs.%d.", i)
		g.add(p+"name", fs.Name)
		g.add(p+"mountpoint", fs.Mountpoint)
		g.add(p+"fstype", fs.Type)
		if fs.Total != nil {
			g.add(p+"total-bytes", *fs.Total)
		}
		if fs.Used != nil {
			g.add(p+"used-bytes", *fs.Used)
		}
		g.add(p+"disk.count", uint32(len(fs.Disks)))
		for j, d := range fs.Disks {
			dp := fmt.Sprintf("%sdisk.%d.", p, j)
			if disk := diskByAgentAddress(def, fs.pci[j], *d.Bus, *d.Target, *d.Unit); disk != nil && disk.TargetDev != "" {
				g.add(dp+"alias", disk.TargetDev)
			}
			if d.Serial != nil {
				g.add(dp+"serial", *d.Serial)
			}
			if d.Dev != nil {
				g.add(dp+"device", *d.Dev)
			}
		}
	}
}

// diskParams is qemuAgentGetDisks with qemuAgentDiskInfoFormatParams.
func diskParams(g *guestInfo, def *conf.Domain) error {
	type diskInfo struct {
		Name      *string        `json:"name"`
		Partition *bool          `json:"partition"`
		Deps      []string       `json:"dependencies"`
		Alias     *string        `json:"alias"`
		Address   *agentDiskAddr `json:"address"`
	}
	var disks []diskInfo
	for _, r := range g.disks {
		var d diskInfo
		if json.Unmarshal(r, &d) != nil || d.Name == nil {
			return errQEMU(virerr.ErrInternalError, "'name' missing in reply of guest-get-disks")
		}
		if d.Partition == nil {
			return errQEMU(virerr.ErrInternalError, "'partition' missing in reply of guest-get-disks")
		}
		disks = append(disks, d)
	}
	g.add("disk.count", uint32(len(disks)))
	for i, d := range disks {
		p := fmt.Sprintf("disk.%d.", i)
		g.add(p+"name", *d.Name)
		g.add(p+"partition", *d.Partition)
		if len(d.Deps) > 0 {
			g.add(p+"dependency.count", uint32(len(d.Deps)))
			for j, dep := range d.Deps {
				g.add(fmt.Sprintf("%sdependency.%d.name", p, j), dep)
			}
		}
		if d.Address != nil {
			pa, err := d.Address.check()
			if err != nil {
				return err
			}
			if d.Address.Serial != nil {
				g.add(p+"serial", *d.Address.Serial)
			}
			if disk := diskByAgentAddress(def, pa, *d.Address.Bus, *d.Address.Target, *d.Address.Unit); disk != nil && disk.TargetDev != "" {
				g.add(p+"alias", disk.TargetDev)
			}
		}
		if d.Alias != nil {
			g.add(p+"guest_alias", *d.Alias)
		}
	}
	return nil
}

// ifaceParams is virDomainInterfaceFormatParams.
func ifaceParams(g *guestInfo) {
	g.add("if.count", uint32(len(g.ifaces)))
	for i, ifc := range g.ifaces {
		p := fmt.Sprintf("if.%d.", i)
		g.add(p+"name", ifc.Name)
		g.add(p+"hwaddr", ifc.HWAddr)
		g.add(p+"addr.count", uint32(len(ifc.Addrs)))
		for j, a := range ifc.Addrs {
			ap := fmt.Sprintf("%saddr.%d.", p, j)
			typ := "ipv4"
			if a.Type == 1 {
				typ = "ipv6"
			}
			g.add(ap+"type", typ)
			g.add(ap+"addr", a.Addr)
			g.add(ap+"prefix", a.Prefix)
		}
	}
}

package qemu

import (
	"path/filepath"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// Deciding what a snapshot that is not --disk-only does, as libvirt 9.0's
// qemuSnapshotCreateXMLParse, ...ValidateDef, ...AlignDisks and
// qemuSnapshotPrepare decide it: an internal snapshot (every qcow2 disk
// plus, for a running guest, the VM state) or a full system snapshot with
// external memory and external disks.

// snapRoute is the kind of snapshot a request asks for.
type snapRoute int

const (
	routeDiskOnly       snapRoute = iota // external disks only (snapshot_create.go)
	routeInternal                        // internal disks (and memory when running)
	routeExternalMemory                  // external memory and disks
)

// errSnapXML is an error of the snapshot XML parser.
func errSnapXML(format string, args ...any) error {
	return virerr.New(virerr.FromDomainSnapshot, virerr.ErrXMLError, format, args...)
}

// checkSnapshotMemory is what virDomainSnapshotDefParse checks of
// <memory>; offline is libvirt's PARSE_OFFLINE (disk-only or a guest
// that is not running). It completes in.Memory when a file implies it.
func checkSnapshotMemory(in *conf.DomainSnapshot, offline bool) error {
	if in.Memory == "manual" {
		return errSnapXML("'manual' memory snapshot mode not supported")
	}
	switch in.Memory {
	case "", "no", "internal", "external":
	default:
		return errSnapXML("Invalid value for attribute 'snapshot' in element 'memory': '%s'.", in.Memory)
	}
	if in.Memory == "" && in.MemoryFile != "" {
		in.Memory = "external"
	}
	if in.MemoryFile != "" && in.Memory != "external" {
		return errSnapXML("memory filename '%s' requires external snapshot", in.MemoryFile)
	}
	if in.MemoryFile == "" && in.Memory == "external" {
		return errSnapXML("external memory snapshots require a filename")
	}
	if offline && in.Memory != "" && in.Memory != "no" {
		return errSnapXML("memory state cannot be saved with offline or disk-only snapshot")
	}
	if in.MemoryFile != "" && !filepath.IsAbs(in.MemoryFile) {
		return errSnapXML("memory snapshot file path (%s) must be absolute", in.MemoryFile)
	}
	return nil
}

// snapStateName is the <state> of a snapshot of a guest in state st.
func snapStateName(st driver.State) string {
	switch st {
	case driver.StateRunning:
		return "running"
	case driver.StateBlocked:
		return "blocked"
	case driver.StatePaused:
		return "paused"
	case driver.StateShutdown:
		return "shutdown"
	case driver.StateCrashed:
		return "crashed"
	case driver.StatePMSuspended:
		return "pmsuspended"
	case driver.StateShutoff:
		return "shutoff"
	}
	return "nostate"
}

// checkSnapshotState is qemuSnapshotCreateXMLValidateDef's check of the
// guest's state and of --live.
func checkSnapshotState(in *conf.DomainSnapshot, st driver.State, active bool, flags uint32) error {
	if flags&driver.SnapCreateLive != 0 && (!active || in.Memory != "external") {
		return errQEMU(virerr.ErrOperationUnsupported, "live snapshot creation is supported only during full system snapshots")
	}
	switch st {
	case driver.StateRunning, driver.StatePaused, driver.StateShutdown, driver.StateShutoff, driver.StateCrashed:
		return nil
	case driver.StatePMSuspended:
		return errQEMU(virerr.ErrOperationUnsupported, "qemu doesn't support taking snapshots of PMSUSPENDED guests")
	}
	return errQEMU(virerr.ErrInternalError, "Invalid domain state %s", snapStateName(st))
}

// alignSnapshot is qemuSnapshotCreateAlignDisks for a snapshot that is
// not --disk-only: it sets state and memory and gives every disk of def
// its mode. It returns the route.
func alignSnapshot(def *conf.Domain, in *conf.DomainSnapshot, st driver.State, active bool) (snapRoute, error) {
	in.State = snapStateName(st)
	loc, route := "internal", routeInternal
	if in.Memory == "external" {
		loc, route = "external", routeExternalMemory
	} else {
		if active && in.Memory == "no" {
			return 0, errQEMU(virerr.ErrOperationUnsupported, "internal snapshot of a running VM must include the memory state")
		}
		in.Memory = "internal"
		if st == driver.StateShutoff {
			in.Memory = "no"
		}
	}
	disks, err := alignDisks(def, in.Disks, loc, loc == "internal")
	if err != nil {
		return 0, err
	}
	in.Disks = disks
	return route, nil
}

// alignDisks is virDomainSnapshotAlignDisks: one entry per disk of def, in
// its order, the requested ones checked, the others given their default
// (empty drives none, else the disk's own snapshot= or loc). An internal
// snapshot (uniform) must take every disk the same way.
func alignDisks(def *conf.Domain, req []conf.SnapshotDisk, loc string, uniform bool) ([]conf.SnapshotDisk, error) {
	if len(req) > len(def.Devices.Disks) {
		return nil, errQEMU(virerr.ErrConfigUnsupported, "too many disk snapshot requests for domain")
	}
	if len(def.Devices.Disks) == 0 {
		return req, nil
	}
	own := diskSnapshotAttrs(def)
	byTarget := map[string]conf.SnapshotDisk{}
	for _, sd := range req {
		disk, _, err := findDisk(def, sd.Name, func(a string) error {
			return errQEMU(virerr.ErrConfigUnsupported, "no disk named '%s'", a)
		})
		if err != nil {
			return nil, err
		}
		if _, dup := byTarget[disk.TargetDev]; dup {
			return nil, errQEMU(virerr.ErrConfigUnsupported, "disk '%s' specified twice", sd.Name)
		}
		mode := own[disk.TargetDev]
		if sd.Snapshot == "" && sd.SourceFile != "" {
			sd.Snapshot = "external" // the parser's default for a disk given a file
		}
		switch {
		case sd.Snapshot == "":
			if mode != "" && (!uniform || mode == "no") {
				sd.Snapshot = mode
			} else {
				sd.Snapshot = loc
			}
		case uniform && sd.Snapshot != loc && !(sd.Snapshot == "no" && mode == "no"):
			return nil, errQEMU(virerr.ErrConfigUnsupported, "disk '%s' must use snapshot mode '%s'", sd.Name, loc)
		}
		if sd.SourceFile != "" && sd.Snapshot != "external" {
			return nil, errQEMU(virerr.ErrConfigUnsupported, "file '%s' for disk '%s' requires use of external snapshot mode", sd.SourceFile, sd.Name)
		}
		sd.Name = disk.TargetDev
		byTarget[disk.TargetDev] = sd
	}
	out := make([]conf.SnapshotDisk, 0, len(def.Devices.Disks))
	for _, disk := range def.Devices.Disks {
		if sd, ok := byTarget[disk.TargetDev]; ok {
			out = append(out, sd)
			continue
		}
		sd := conf.SnapshotDisk{Name: disk.TargetDev, Snapshot: own[disk.TargetDev]}
		if sourceEmpty(disk) {
			sd.Snapshot = "no"
		}
		if sd.Snapshot == "" {
			sd.Snapshot = loc
		}
		out = append(out, sd)
	}
	return out, nil
}

// sourceEmpty is virStorageSourceIsEmpty: a drive without media.
func sourceEmpty(disk *conf.Disk) bool {
	return disk.Source.Type != "network" && disk.Source.Path == ""
}

// diskSnapshotAttrs is each disk's snapshot attribute, by target.
func diskSnapshotAttrs(def *conf.Domain) map[string]string {
	out := map[string]string{}
	devs := def.Tree().Child("devices")
	if devs == nil {
		return out
	}
	for _, d := range devs.Children("disk") {
		mode, _ := d.Attr("snapshot")
		if t := d.Child("target"); t != nil && mode != "" {
			dev, _ := t.Attr("dev")
			out[dev] = mode
		}
	}
	return out
}

// prepareInternal is qemuSnapshotPrepare for a snapshot that is not
// --disk-only: each disk's mode checked against its image, then the
// combinations libvirt refuses. busy refuses disks in a block job.
func prepareInternal(def *conf.Domain, in *conf.DomainSnapshot, active bool, busy func(*conf.Disk) error) error {
	foundInternal, forbidInternal, external := false, false, 0
	for _, sd := range in.Disks {
		disk := diskByTarget(def, sd.Name)
		if disk == nil {
			continue
		}
		if sd.Snapshot != "no" && busy != nil {
			if err := busy(disk); err != nil {
				return err
			}
		}
		switch sd.Snapshot {
		case "internal":
			foundInternal = true
			if !active {
				if err := checkInternalInactiveType(disk); err != nil {
					return err
				}
			}
			if f := disk.Source.Format; f != "" && f != "qcow2" {
				return errQEMU(virerr.ErrConfigUnsupported, "internal snapshot for disk %s unsupported for storage type %s", sd.Name, f)
			}
		case "external":
			external++
		case "manual":
			forbidInternal = true
		case "no":
			if !sourceEmpty(disk) && !disk.ReadOnly {
				forbidInternal = true
			}
		}
	}
	if !foundInternal && external == 0 && in.Memory == "no" {
		return errQEMU(virerr.ErrConfigUnsupported, "nothing selected for snapshot")
	}
	if in.Memory == "internal" && !foundInternal || foundInternal && forbidInternal {
		return errQEMU(virerr.ErrConfigUnsupported, "internal and full system snapshots require all disks to be selected for snapshot")
	}
	if foundInternal && external > 0 || in.Memory == "internal" && external > 0 || in.Memory == "external" && foundInternal {
		return errQEMU(virerr.ErrConfigUnsupported, "mixing internal and external targets for a snapshot is not yet supported")
	}
	if foundInternal && hasPflashLoader(def) {
		return errQEMU(virerr.ErrOperationUnsupported, "internal snapshots of a VM with pflash based firmware are not supported")
	}
	return nil
}

// checkInternalInactiveType is qemuSnapshotPrepareDiskInternal for a
// guest that is not running: qemu-img can only reach local images.
func checkInternalInactiveType(disk *conf.Disk) error {
	switch disk.Source.Type {
	case "", "file", "block":
		return nil
	case "network":
		return errQEMU(virerr.ErrInternalError, "internal inactive snapshots are not supported on 'network' disks using '%s' protocol", disk.Source.Protocol)
	}
	return errQEMU(virerr.ErrInternalError, "internal inactive snapshots are not supported on '%s' disks", disk.Source.Type)
}

// hasPflashLoader is virDomainDefHasOldStyleUEFI: a pflash <loader>.
func hasPflashLoader(def *conf.Domain) bool {
	os := def.Tree().Child("os")
	if os == nil {
		return false
	}
	l := os.Child("loader")
	if l == nil {
		return false
	}
	typ, _ := l.Attr("type")
	return typ == "pflash"
}

package qemu

import (
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/virerr"
)

// Disk arguments name a disk by target ("vda"), by target and chain index
// ("vda[3]": the image whose index is 3) or by an image path. Indexes are
// the ones the live XML shows; they stay with their image for the whole
// run, so a name resolves to the same image before and after any job.

// parseDiskIndex splits "vda[3]" into ("vda", 3); a plain name has index 0.
func parseDiskIndex(arg string) (string, int, bool) {
	i := strings.IndexByte(arg, '[')
	if i <= 0 || !strings.HasSuffix(arg, "]") {
		return arg, 0, true
	}
	n, err := strconv.Atoi(arg[i+1 : len(arg)-1])
	if err != nil || n <= 0 {
		return arg, 0, false
	}
	return arg[:i], n, true
}

// layersOf lists a disk's images from the top down, without the empty
// <backingStore/> terminator.
func layersOf(s *conf.DiskSource) []*conf.DiskSource {
	var out []*conf.DiskSource
	for ; s != nil && s.Type != ""; s = s.Backing {
		out = append(out, s)
	}
	return out
}

// findDisk returns the disk a name refers to (target or top image path,
// as libvirt's virDomainDiskByName) and, with an index, the image in its
// chain. notFound builds the caller's error for an unknown disk.
func findDisk(def *conf.Domain, arg string, notFound func(string) error) (*conf.Disk, *conf.DiskSource, error) {
	name, idx, ok := parseDiskIndex(arg)
	if !ok {
		return nil, nil, notFound(arg)
	}
	var disk *conf.Disk
	for _, d := range def.Devices.Disks {
		if d.TargetDev == name || (idx == 0 && d.Source.Path != "" && d.Source.Path == name) {
			disk = d
			break
		}
	}
	if disk == nil && idx == 0 {
		// A backing image's path names its disk too, and that image.
		for _, d := range def.Devices.Disks {
			for _, l := range layersOf(&d.Source) {
				if l.Path == name {
					return d, l, nil
				}
			}
		}
	}
	if disk == nil {
		return nil, nil, notFound(arg)
	}
	if idx == 0 {
		return disk, &disk.Source, nil
	}
	l := layerByIndex(disk, idx)
	if l == nil {
		return nil, nil, errQEMU(virerr.ErrInvalidArg, "could not find backing store index '%d' in chain for '%s'", idx, arg)
	}
	return disk, l, nil
}

// layerIndex is an image's index in its chain: the one it was given, or,
// when a definition read back without index attributes left it 0 (the
// live definition a restore or an incoming migration runs, a status
// file), the number of its libvirt-N node names, which the command line
// builder derives from the index. Block jobs record images by it, so an
// index of 0 made a pivot after a restore apply to the wrong image: QEMU
// wrote the base while the live XML kept the old top (fault suite).
func layerIndex(l *conf.DiskSource) int {
	if l.Index > 0 {
		return l.Index
	}
	if n := nodeNumber(l.NodeNameFormat); n > 0 {
		return n
	}
	return nodeNumber(l.NodeName)
}

// errDiskNotFound is qemuDomainDiskByName's error.
func errDiskNotFound(arg string) error {
	return errQEMU(virerr.ErrInvalidArg, "disk '%s' not found in domain", arg)
}

func layerByIndex(disk *conf.Disk, idx int) *conf.DiskSource {
	if idx <= 0 {
		return nil
	}
	for _, l := range layersOf(&disk.Source) {
		if layerIndex(l) == idx {
			return l
		}
	}
	return nil
}

// chainLookup resolves a --top/--base argument within disk's chain,
// strictly below from when from is set. Like libvirt it accepts the
// target alone (the top), target[index] and an image path.
func chainLookup(disk *conf.Disk, arg string, from *conf.DiskSource) (*conf.DiskSource, error) {
	name, idx, ok := parseDiskIndex(arg)
	if !ok {
		return nil, errQEMU(virerr.ErrInvalidArg, "invalid backing store name '%s'", arg)
	}
	if idx > 0 && name != disk.TargetDev {
		return nil, errQEMU(virerr.ErrInvalidArg, "requested target '%s' does not match target '%s'", name, disk.TargetDev)
	}
	layers := layersOf(&disk.Source)
	start := 0
	if from != nil {
		for i, l := range layers {
			if l == from {
				start = i + 1
			}
		}
	}
	for _, l := range layers[min(start, len(layers)):] {
		switch {
		case idx > 0 && layerIndex(l) == idx:
			return l, nil
		case idx == 0 && name == disk.TargetDev && l == &disk.Source:
			return l, nil
		case idx == 0 && l.Path == name:
			return l, nil
		}
	}
	if idx > 0 {
		return nil, errQEMU(virerr.ErrInvalidArg, "could not find backing store index '%d' in chain for '%s'", idx, disk.TargetDev)
	}
	if from != nil {
		return nil, errQEMU(virerr.ErrInvalidArg, "could not find image '%s' beneath '%s' in chain for '%s'", arg, from.Path, disk.TargetDev)
	}
	return nil, errQEMU(virerr.ErrInvalidArg, "could not find image '%s' in chain for '%s'", arg, disk.TargetDev)
}

// parentOf returns the image directly above l in disk's chain (nil for
// the top).
func parentOf(disk *conf.Disk, l *conf.DiskSource) *conf.DiskSource {
	for s := &disk.Source; s != nil && s.Type != ""; s = s.Backing {
		if s.Backing == l {
			return s
		}
	}
	return nil
}

// diskByTarget is the live disk with that target, or nil.
func diskByTarget(def *conf.Domain, target string) *conf.Disk {
	if def == nil {
		return nil
	}
	for _, d := range def.Devices.Disks {
		if d.TargetDev == target {
			return d
		}
	}
	return nil
}

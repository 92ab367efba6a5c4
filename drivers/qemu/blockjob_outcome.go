package qemu

import (
	"context"
	"os"

	"govirt/conf"
	"govirt/driver"
	"govirt/qmp"
)

// chainChange is what a finished job did to a disk's chain.
type chainChange struct {
	changed     bool
	oldTop      string             // top image path before the change
	unplug      []*conf.DiskSource // images that left, top down, Backing cut
	deleteFiles bool               // commit --delete: remove their files too
}

// detached copies a layer for unplugging: its names, without its chain.
func detached(l *conf.DiskSource) *conf.DiskSource {
	c := *l
	c.Backing = nil
	return &c
}

// between lists the images from 'from' down to, not including, 'stop'.
func between(from, stop *conf.DiskSource) []*conf.DiskSource {
	var out []*conf.DiskSource
	for l := from; l != nil && l.Type != "" && l != stop; l = l.Backing {
		out = append(out, detached(l))
	}
	return out
}

// applyJobOutcome updates disk's live chain for a job that ended with
// status, as libvirt's qemuBlockJobProcessEvent* do; call with v.mu
// held. Images that stay keep their index: only links between them move.
func applyJobOutcome(disk *conf.Disk, j *blockJob, status int32) chainChange {
	var res chainChange
	switch j.Type {
	case driver.BlockJobTypeCommit:
		if status != driver.BlockJobCompleted {
			return res
		}
		top, base := layerByIndex(disk, j.TopIndex), layerByIndex(disk, j.BaseIndex)
		parent := parentOf(disk, top)
		if top == nil || base == nil || parent == nil {
			return res
		}
		res.unplug = between(top, base)
		parent.Backing = base
		res.changed, res.deleteFiles = true, j.Delete
	case driver.BlockJobTypeActiveCommit:
		if status != driver.BlockJobCompleted || j.State != jobPivoting {
			return res
		}
		base := layerByIndex(disk, j.BaseIndex)
		if base == nil {
			return res
		}
		res.unplug = between(&disk.Source, base)
		disk.Source = *base
		res.changed, res.deleteFiles = true, j.Delete
	case driver.BlockJobTypeCopy:
		m := disk.Mirror
		if m == nil {
			return res
		}
		if status != driver.BlockJobCompleted || j.State != jobPivoting {
			// The copy stays where it is; only its nodes go.
			res.unplug = []*conf.DiskSource{detached(&m.Source)}
			return res
		}
		newTop := m.Source
		if j.Shallow {
			res.unplug = []*conf.DiskSource{detached(&disk.Source)}
			newTop.Backing = disk.Source.Backing
		} else {
			res.unplug = between(&disk.Source, nil)
		}
		disk.Source = newTop
		res.changed = true
	case driver.BlockJobTypePull:
		if status != driver.BlockJobCompleted {
			return res
		}
		var base *conf.DiskSource
		if j.BaseIndex > 0 {
			base = layerByIndex(disk, j.BaseIndex)
		}
		res.unplug = between(disk.Source.Backing, base)
		if base == nil {
			base = &conf.DiskSource{}
		}
		disk.Source.Backing = base
		res.changed = true
	}
	return res
}

// delNodes unplugs one image's format and storage nodes.
func delNodes(ctx context.Context, mon monitor, s *conf.DiskSource) {
	for _, n := range []string{s.NodeNameFormat, s.NodeName} {
		if n != "" {
			_ = qmp.BlockdevDel(ctx, mon, n)
		}
	}
}

func removeImageFile(s *conf.DiskSource) {
	if s.Type == "file" && s.Path != "" {
		os.Remove(s.Path)
	}
}

// configSource is a live chain as the persistent definition keeps it: no
// indexes or node names, and the backing chain only when the definition
// spelled one out (otherwise the next start detects it from the images).
func configSource(s *conf.DiskSource, withChain bool) conf.DiskSource {
	c := *s
	c.Index, c.NodeName, c.NodeNameFormat = 0, "", ""
	c.Backing = nil
	if withChain && s.Backing != nil {
		b := configSource(s.Backing, true)
		c.Backing = &b
	}
	return c
}

// syncConfigChain carries a live chain change into the persistent
// definition, as libvirt does, when that definition still describes the
// same disk (same top image as the live one had before the change).
// The caller holds v's job.
func (d *Driver) syncConfigChain(v *vm, live *conf.Disk, oldTop string) {
	v.mu.Lock()
	if v.def == nil || !v.persistent {
		v.mu.Unlock()
		return
	}
	if cfg := diskByTarget(v.def, live.TargetDev); cfg == nil || cfg.Source.Path != oldTop {
		v.mu.Unlock()
		return
	}
	// Copy on write, as for v.live: readers use v.def outside v.mu.
	def := v.def.Clone()
	cfg := diskByTarget(def, live.TargetDev)
	old := cfg.Source
	cfg.Source = configSource(&live.Source, cfg.Source.Backing != nil)
	dropDetectedEnd(&cfg.Source, &old)
	v.def = def
	v.mu.Unlock()
	if err := d.saveDef(def); err != nil {
		d.log.Error("cannot save definition after a disk chain change", "domain", v.name, "err", err)
	}
}

// dropDetectedEnd removes the chain end marker (<backingStore/>) of a new
// persistent chain c unless the definition's chain before the change, old,
// spelled it below the same image: the live marker is a detected one,
// which libvirt does not write into the persistent XML.
func dropDetectedEnd(c, old *conf.DiskSource) {
	for l := c; l != nil && l.Type != ""; l = l.Backing {
		if l.Backing == nil || l.Backing.Type != "" {
			continue
		}
		for o := old; o != nil && o.Type != ""; o = o.Backing {
			if o.Path == l.Path && o.Backing != nil && o.Backing.Type == "" {
				return
			}
		}
		l.Backing = nil
		return
	}
}

package qemu

import (
	"context"
	"strings"

	"govirt/conf"
)

// snapRecord is a live disk-only snapshot's plan as the status keeps it
// while the snapshot job runs.
type snapRecord struct {
	// Meta is the snapshot metadata to store once the overlays are in
	// place; empty for a snapshot without metadata.
	Meta     string        `json:"meta,omitempty"`
	Reuse    bool          `json:"reuse,omitempty"`
	Overlays []snapOverlay `json:"overlays"`
}

type snapOverlay struct {
	Target  string          `json:"target"`
	OldTop  conf.DiskSource `json:"old_top"`
	Overlay conf.DiskSource `json:"overlay"`
}

// recoverSnapshot settles a snapshot a killed daemon left half done. The
// transaction is atomic, so QEMU either put every overlay on top of its
// disk or none: what query-block reports as each drive's top node says
// which. Overlays in use are adopted (live and persistent XML, metadata),
// as the snapshot would have finished; otherwise the nodes the snapshot
// plugged are unplugged and the images it created removed, as its undo
// would have. Either way no node is left that the XML does not name, so
// a later snapshot cannot clash with it.
func (d *Driver) recoverSnapshot(ctx context.Context, v *vm, job *statusJob) {
	rec := job.Snapshot
	v.mu.Lock()
	mon, name := v.mon, v.name
	v.mu.Unlock()
	if rec == nil || mon == nil {
		return
	}
	tops, nodes, err := blockGraph(ctx, mon)
	if err != nil {
		d.log.Error("cannot read the block graph to recover a snapshot", "domain", name, "err", err)
		return
	}
	adopted := false
	for _, o := range rec.Overlays {
		// The node name alone is not proof: a snapshot that failed on a
		// node name clash left its record naming the node of the image
		// QEMU already wrote, and adopting it made the XML name an
		// overlay QEMU never opened (fault suite). The top must be the
		// overlay's file.
		f, isTop := tops[o.Overlay.NodeNameFormat]
		clash := isTop && strings.HasPrefix(f, "/") && o.Overlay.Path != "" && f != o.Overlay.Path
		if isTop && !clash {
			d.adoptOverlay(v, o)
			adopted = true
			continue
		}
		if !clash && (nodes[o.Overlay.NodeNameFormat] || nodes[o.Overlay.NodeName]) {
			delNodes(ctx, mon, &o.Overlay)
		}
		if !rec.Reuse {
			removeImageFile(&o.Overlay)
		}
	}
	if adopted && rec.Meta != "" {
		meta, err := conf.ParseDomainSnapshot([]byte(rec.Meta), 0)
		if err == nil {
			v.ext.snapMu.Lock()
			if err = d.saveSnap(name, meta); err == nil {
				err = d.setCurrentSnap(name, meta.Name)
			}
			v.ext.snapMu.Unlock()
		}
		if err != nil {
			d.log.Error("cannot store the metadata of a recovered snapshot", "domain", name, "err", err)
		}
	}
	d.log.Warn("settled an interrupted snapshot", "domain", name, "adopted", adopted)
}

// adoptOverlay puts o's overlay on top of its disk in the live and the
// persistent definition, unless the live one has it already.
func (d *Driver) adoptOverlay(v *vm, o snapOverlay) {
	v.mu.Lock()
	if disk := diskByTarget(v.live, o.Target); disk == nil || disk.Source.NodeNameFormat == o.Overlay.NodeNameFormat {
		v.mu.Unlock()
		return
	}
	editDisk(v, o.Target, func(disk *conf.Disk) {
		if disk != nil {
			old := disk.Source
			top := o.Overlay
			top.Backing = &old
			disk.Source = top
		}
	})
	v.mu.Unlock()
	p := &overlayPlan{target: o.Target, oldTop: o.OldTop, overlay: o.Overlay}
	if err := d.overlayConfig(v, p, true); err != nil {
		d.log.Error("cannot save definition after a recovered snapshot", "domain", v.name, "err", err)
	}
}

// blockGraph returns the top node of every drive with its image file
// (query-block) and every node QEMU has (query-named-block-nodes).
func blockGraph(ctx context.Context, mon monitor) (tops map[string]string, nodes map[string]bool, err error) {
	var blocks []struct {
		Inserted *struct {
			NodeName string `json:"node-name"`
			File     string `json:"file"`
		} `json:"inserted"`
	}
	if err := mon.Execute(ctx, "query-block", nil, &blocks); err != nil {
		return nil, nil, err
	}
	tops = map[string]string{}
	for _, b := range blocks {
		if b.Inserted != nil && b.Inserted.NodeName != "" {
			tops[b.Inserted.NodeName] = b.Inserted.File
		}
	}
	var named []struct {
		NodeName string `json:"node-name"`
	}
	if err := mon.Execute(ctx, "query-named-block-nodes", map[string]any{"flat": true}, &named); err != nil {
		return nil, nil, err
	}
	nodes = map[string]bool{}
	for _, n := range named {
		nodes[n.NodeName] = true
	}
	return tops, nodes, nil
}

package qemu

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"govirt/conf"
	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// Migration of non-shared storage (--copy-storage-all, --copy-storage-inc,
// --migrate-disks) as libvirt 9.0's NBD copy: Begin tells the destination
// each copied disk's size in the cookie's <nbd> element; Prepare creates
// the images that are missing there (same format and size) before QEMU
// starts, then exports the disks with QEMU's NBD server and answers its
// port; Perform mirrors each disk into its export (blockdev-mirror to an
// nbd node) and, once every mirror is ready, migrates the memory; the
// mirrors are then completed (block-job-cancel of a ready mirror leaves
// the copy in sync) and Finish stops the NBD server before the guest runs.

const (
	migParamDisksPort = "disks_port"
	mirrorJobPrefix   = "govirt-migrate-"
)

// cookieNBD is the cookie's <nbd> element.
type cookieNBD struct {
	Port  int             `xml:"port,attr,omitempty"`
	Disks []cookieNBDDisk `xml:"disk"`
}

type cookieNBDDisk struct {
	Target   string `xml:"target,attr"`
	Capacity uint64 `xml:"capacity,attr"`
}

func isMigrationMirror(job string) bool { return strings.HasPrefix(job, mirrorJobPrefix) }

func copiesStorage(flags uint32) bool {
	return flags&(migrateNonSharedDisk|migrateNonSharedInc) != 0
}

// copyDisks lists the disks of def a storage migration copies, as
// qemuMigrationAnyCopyDisk: those --migrate-disks names, else every disk
// that is neither shared nor read-only and has a source.
func copyDisks(def *conf.Domain, params []driver.TypedParam) ([]*conf.Disk, error) {
	var want []string
	for _, p := range params {
		if s, ok := p.Value.(string); ok && p.Field == migParamMigrateDisks {
			want = append(want, s)
		}
	}
	for _, w := range want {
		if diskByTarget(def, w) == nil {
			return nil, errQEMU(virerr.ErrInvalidArg, "disk target %s not found", w)
		}
	}
	var out []*conf.Disk
	for _, d := range def.Devices.Disks {
		switch {
		case len(want) > 0:
			if slices.Contains(want, d.TargetDev) {
				out = append(out, d)
			}
		case !d.Shareable && !d.ReadOnly && (d.Source.Path != "" || d.Source.Type == "network"):
			out = append(out, d)
		}
	}
	return out, nil
}

// nbdExportName is the export of a disk, libvirt's drive alias.
func nbdExportName(d *conf.Disk) string {
	if d.Alias != "" {
		return "drive-" + d.Alias
	}
	return "drive-" + d.TargetDev
}

// beginNBD is the Begin step's <nbd>: the size of every disk copied.
func beginNBD(ctx context.Context, mon monitor, live *conf.Domain, params []driver.TypedParam, flags uint32) (*cookieNBD, error) {
	if !copiesStorage(flags) {
		return nil, nil
	}
	if flags&migrateTunnelled != 0 {
		return nil, errQEMU(virerr.ErrOperationUnsupported, "%s", "migration of non-shared storage is not supported with tunnelled migration and this QEMU")
	}
	disks, err := copyDisks(live, params)
	if err != nil {
		return nil, err
	}
	n := &cookieNBD{}
	for _, d := range disks {
		size, err := nodeVirtualSize(ctx, mon, d.Source.NodeNameFormat)
		if err != nil {
			return nil, err
		}
		n.Disks = append(n.Disks, cookieNBDDisk{Target: d.TargetDev, Capacity: size})
	}
	return n, nil
}

// precreateStorage creates, before the destination's QEMU starts, the
// images of copied disks that do not exist here, as
// qemuMigrationDstPrecreateStorage; it returns the paths it created.
func precreateStorage(def *conf.Domain, params []driver.TypedParam, cookieIn []byte) ([]string, error) {
	ck, err := parseCookie(cookieIn)
	if err != nil {
		return nil, err
	}
	disks, err := copyDisks(def, params)
	if err != nil {
		return nil, err
	}
	var created []string
	for _, d := range disks {
		if (d.Source.Type != "file" && d.Source.Type != "") || d.Source.Path == "" || fileExists(d.Source.Path) {
			continue
		}
		var size uint64
		found := false
		if ck.NBD != nil {
			for _, c := range ck.NBD.Disks {
				if c.Target == d.TargetDev {
					size, found = c.Capacity, true
				}
			}
		}
		if !found {
			removeAll(created)
			return nil, errQEMU(virerr.ErrInternalError, "unable to find disk '%s' in the migration cookie", d.TargetDev)
		}
		if err := createImage(d.Source.Path, d.Source.Format, size, "", ""); err != nil {
			removeAll(created)
			return nil, err
		}
		created = append(created, d.Source.Path)
	}
	return created, nil
}

func removeAll(paths []string) {
	for _, p := range paths {
		os.Remove(p)
	}
}

// startNBDServer exports the copied disks of the incoming guest with
// QEMU's NBD server and returns its port.
func (d *Driver) startNBDServer(ctx context.Context, v *vm, mon monitor, params []driver.TypedParam) (int, error) {
	v.mu.Lock()
	live := v.live
	v.mu.Unlock()
	disks, err := copyDisks(live, params)
	if err != nil {
		return 0, err
	}
	listen := migParam(params, migParamListenAddress)
	if listen == "" {
		listen = migListenAddress()
	}
	port := 0
	for _, p := range params {
		if p.Field == migParamDisksPort {
			if n, ok := p.Value.(int32); ok && n > 0 {
				port = int(n)
			}
		}
	}
	fixed := port != 0
	tried := map[int]bool{}
	for attempt := 0; ; attempt++ {
		if !fixed {
			if port, err = d.reserveMigPort(listen, tried); err != nil {
				return 0, err
			}
			tried[port] = true
		}
		addr := map[string]any{"type": "inet", "data": map[string]any{"host": listen, "port": strconv.Itoa(port)}}
		sargs := map[string]any{"addr": addr}
		if migFlagsOf(v)&migrateTLS != 0 { // the migration's TLS object (migrate_tls.go)
			sargs["tls-creds"] = migTLSAlias
		}
		err = mon.Execute(ctx, "nbd-server-start", sargs, nil)
		if !fixed {
			d.releaseMigPort(port)
		}
		if err == nil {
			break
		}
		if fixed || attempt >= 8 {
			return 0, qmpFailed("nbd-server-start", err)
		}
	}
	for _, disk := range disks {
		node := disk.Source.NodeNameFormat
		args := map[string]any{"type": "nbd", "id": "libvirt-nbd-" + node, "node-name": node,
			"name": nbdExportName(disk), "writable": true}
		if err := mon.Execute(ctx, "block-export-add", args, nil); err != nil {
			_ = mon.Execute(ctx, "nbd-server-stop", nil, nil)
			return 0, qmpFailed("block-export-add", err)
		}
	}
	return port, nil
}

// stopNBDServer ends the exports once the migration completed.
func stopNBDServer(ctx context.Context, mon monitor) {
	_ = mon.Execute(ctx, "nbd-server-stop", nil, nil)
}

// storageCopy is the source's mirrors of one migration.
type storageCopy struct {
	jobs, nodes []string
	disks       []string
}

// startStorageCopy mirrors every copied disk into the destination's NBD
// export at host:port and waits until all of them are ready.
func startStorageCopy(ctx context.Context, v *vm, m *migration, mon monitor, host string, port int, params []driver.TypedParam, flags uint32) (*storageCopy, error) {
	v.mu.Lock()
	live := v.live
	v.mu.Unlock()
	disks, err := copyDisks(live, params)
	if err != nil {
		return nil, err
	}
	sync := "full"
	if flags&migrateNonSharedInc != 0 {
		sync = "top"
	}
	sc := &storageCopy{}
	for _, disk := range disks {
		node := "migration-" + disk.TargetDev + "-storage"
		server := map[string]any{"type": "inet", "host": host, "port": strconv.Itoa(port)}
		nargs := map[string]any{"driver": "nbd", "node-name": node, "server": server, "export": nbdExportName(disk)}
		if flags&migrateTLS != 0 {
			nargs["tls-creds"] = migTLSAlias
		}
		if err := qmp.BlockdevAdd(ctx, mon, nargs); err != nil {
			sc.abort(mon)
			return nil, qmpCommandError("blockdev-add", err)
		}
		sc.nodes = append(sc.nodes, node)
		job := mirrorJobPrefix + disk.TargetDev
		args := map[string]any{"job-id": job, "device": disk.Source.NodeNameFormat, "target": node,
			"sync": sync, "auto-finalize": true, "auto-dismiss": true}
		if err := mon.Execute(ctx, "blockdev-mirror", args, nil); err != nil {
			sc.abort(mon)
			return nil, qmpCommandError("blockdev-mirror", err)
		}
		sc.jobs = append(sc.jobs, job)
		sc.disks = append(sc.disks, disk.TargetDev)
	}
	for {
		jobs, err := qmp.QueryBlockJobs(ctx, mon)
		if err != nil {
			sc.abort(mon)
			return nil, qmpCommandError("query-block-jobs", err)
		}
		ready := 0
		for i, name := range sc.jobs {
			idx := slices.IndexFunc(jobs, func(j qmp.BlockJobInfo) bool { return j.Device == name })
			switch {
			case idx < 0 || jobs[idx].Status == "concluded" || jobs[idx].Status == "aborting":
				sc.abort(mon)
				return nil, errQEMU(virerr.ErrOperationFailed, "migration of disk %s failed", sc.disks[i])
			case jobs[idx].Ready != nil && *jobs[idx].Ready:
				ready++
			}
		}
		if ready == len(sc.jobs) {
			return sc, nil
		}
		v.mu.Lock()
		aborted := m.aborted
		v.mu.Unlock()
		if aborted {
			sc.abort(mon)
			return nil, errQEMU(virerr.ErrOperationAborted, "%s", "migration out job: canceled by client")
		}
		select {
		case <-ctx.Done():
			sc.abort(mon)
			return nil, errLostDestination()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// complete ends the ready mirrors with the copies in sync (the guest's
// CPUs stopped when the memory migration completed) and drops the nbd
// nodes.
func (sc *storageCopy) complete(mon monitor) error {
	return sc.end(mon, false)
}

// abort cancels the mirrors, leaving the source as it was.
func (sc *storageCopy) abort(mon monitor) { _ = sc.end(mon, true) }

func (sc *storageCopy) end(mon monitor, force bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var firstErr error
	for i, job := range sc.jobs {
		if err := mon.Execute(ctx, "block-job-cancel", map[string]any{"device": job, "force": force}, nil); err != nil && firstErr == nil && !force {
			firstErr = errQEMU(virerr.ErrOperationFailed, "migration of disk %s failed: %v", sc.disks[i], err)
		}
	}
	for {
		jobs, err := qmp.QueryBlockJobs(ctx, mon)
		if err != nil {
			break
		}
		left := slices.ContainsFunc(jobs, func(j qmp.BlockJobInfo) bool { return slices.Contains(sc.jobs, j.Device) })
		if !left {
			break
		}
		select {
		case <-ctx.Done():
			if firstErr == nil {
				firstErr = errQEMU(virerr.ErrOperationTimeout, "%s", "storage migration did not finish")
			}
		case <-time.After(50 * time.Millisecond):
			continue
		}
		break
	}
	for _, node := range sc.nodes {
		_ = qmp.BlockdevDel(ctx, mon, node)
	}
	return firstErr
}

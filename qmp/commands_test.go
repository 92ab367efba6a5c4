package qmp_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"govirt/qmp"
	"govirt/qmp/qmptest"
)

// raw is a JSON literal for transcripts, so the expected arguments are
// spelled exactly as QEMU receives them.
func raw(s string) json.RawMessage { return json.RawMessage(s) }

func ret(s string) json.RawMessage { return json.RawMessage(`{"return":` + s + `}`) }

// TestTypedCommandsWire replays a recorded session: each typed command
// must send exactly the arguments the driver sent before it had types
// (the fake server compares them as JSON) and decode QEMU's reply.
func TestTypedCommandsWire(t *testing.T) {
	ex := func(cmd, args, reply string) qmptest.Exchange {
		e := qmptest.Exchange{Execute: cmd, Reply: ret(reply)}
		if args != "" {
			e.Arguments = raw(args)
		}
		return e
	}
	m, srv := dialFake(t, qmp.Options{}, qmptest.Options{},
		ex("query-status", "", `{"running":true,"singlestep":false,"status":"running"}`),
		ex("stop", "", `{}`),
		ex("cont", "", `{}`),
		ex("system_powerdown", "", `{}`),
		ex("system_reset", "", `{}`),
		ex("balloon", `{"value":67108864}`, `{}`),
		ex("query-balloon", "", `{"actual":67108864}`),
		ex("qom-get", `{"path":"/machine/peripheral/balloon0","property":"guest-stats"}`, `{"stats":{"stat-free-memory":5},"last-update":7}`),
		ex("query-cpus-fast", "", `[{"cpu-index":0,"thread-id":4242,"qom-path":"/machine/unattached/device[0]","target":"x86_64"}]`),
		ex("human-monitor-command", `{"command-line":"info version"}`, `"7.2.0\r\n"`),
		ex("device_add", `{"driver":"virtio-blk-pci","id":"virtio-disk1","drive":"libvirt-2-format"}`, `{}`),
		ex("device_del", `{"id":"virtio-disk1"}`, `{}`),
		ex("netdev_add", `{"type":"user","id":"hostnet1"}`, `{}`),
		ex("netdev_del", `{"id":"hostnet1"}`, `{}`),
		ex("query-chardev", "", `[{"label":"charserial0","filename":"pty:/dev/pts/5","frontend-open":true}]`),
		ex("query-vnc", "", `{"enabled":true,"host":"127.0.0.1","service":"5901","family":"ipv4"}`),
		ex("set_password", `{"protocol":"vnc","password":"s3cret"}`, `{}`),
		ex("expire_password", `{"protocol":"vnc","time":"never"}`, `{}`),
		ex("screendump", `{"filename":"/tmp/x.ppm"}`, `{}`),
		ex("screendump", `{"filename":"/tmp/x.png","device":"video0","head":1,"format":"png"}`, `{}`),
		ex("blockdev-add", `{"driver":"file","filename":"/i.img","node-name":"libvirt-3-storage"}`, `{}`),
		ex("blockdev-del", `{"node-name":"libvirt-3-storage"}`, `{}`),
		ex("query-block", "", `[{"device":"","qdev":"/machine/peripheral/sata0-0-0/ide.0","removable":true,"locked":false,"tray_open":true},{"device":"","qdev":"virtio-disk0","removable":false,"locked":false}]`),
		ex("query-named-block-nodes", `{"flat":true}`, `[{"node-name":"libvirt-1-format","drv":"qcow2","file":"/i.qcow2","image":{"virtual-size":1048576,"actual-size":4096}}]`),
		ex("query-blockstats", "", `[{"device":"","qdev":"virtio-disk0","node-name":"libvirt-1-format","stats":{"rd_bytes":512,"wr_bytes":1024,"rd_operations":1,"wr_operations":2,"flush_operations":3,"rd_total_time_ns":4,"wr_total_time_ns":5,"flush_total_time_ns":6,"wr_highest_offset":7}}]`),
		ex("query-blockstats", `{"query-nodes":true}`, `[]`),
		ex("blockdev-open-tray", `{"id":"sata0-0-0","force":true}`, `{}`),
		ex("blockdev-remove-medium", `{"id":"sata0-0-0"}`, `{}`),
		ex("blockdev-insert-medium", `{"id":"sata0-0-0","node-name":"libvirt-4-format"}`, `{}`),
		ex("blockdev-close-tray", `{"id":"sata0-0-0"}`, `{}`),
		ex("transaction", `{"actions":[{"type":"blockdev-snapshot","data":{"node":"libvirt-1-format","overlay":"libvirt-5-format"}}]}`, `{}`),
		ex("block-commit", `{"job-id":"commit-vda-libvirt-2-format","device":"libvirt-1-format","top-node":"libvirt-2-format","base-node":"libvirt-3-format","auto-finalize":true,"auto-dismiss":false}`, `{}`),
		ex("block-commit", `{"job-id":"c2","device":"d","top-node":"t","base-node":"b","speed":1048576,"auto-finalize":false,"auto-dismiss":false}`, `{}`),
		ex("block-stream", `{"job-id":"pull-vda-x","device":"x","auto-finalize":true,"auto-dismiss":false}`, `{}`),
		ex("block-stream", `{"job-id":"p2","device":"x","base-node":"y","speed":5,"auto-finalize":true,"auto-dismiss":false}`, `{}`),
		ex("blockdev-mirror", `{"job-id":"copy-vda-x","device":"x","target":"y","sync":"top","granularity":65536,"buf-size":1024,"copy-mode":"write-blocking","auto-finalize":true,"auto-dismiss":false}`, `{}`),
		ex("block-job-cancel", `{"device":"copy-vda-x"}`, `{}`),
		ex("block-job-cancel", `{"device":"copy-vda-x","force":false}`, `{}`),
		ex("block-job-set-speed", `{"device":"copy-vda-x","speed":0}`, `{}`),
		ex("job-complete", `{"id":"j"}`, `{}`),
		ex("job-finalize", `{"id":"j"}`, `{}`),
		ex("job-dismiss", `{"id":"j"}`, `{}`),
		ex("query-jobs", "", `[{"id":"j","type":"commit","status":"concluded","current-progress":10,"total-progress":10,"error":"boom"}]`),
		ex("query-block-jobs", "", `[{"type":"mirror","device":"j","len":10,"offset":5,"speed":0,"ready":false,"status":"running","busy":true,"paused":false,"io-status":"ok","auto-finalize":true,"auto-dismiss":false}]`),
		ex("migrate-set-capabilities", `{"capabilities":[{"capability":"events","state":true}]}`, `{}`),
		ex("migrate-set-parameters", `{"max-bandwidth":1099511627776}`, `{}`),
		ex("migrate", `{"uri":"fd:govirt-save"}`, `{}`),
		ex("migrate-incoming", `{"uri":"tcp:[::]:49152"}`, `{}`),
		ex("query-migrate", "", `{"status":"active","blocked-reasons":["x"],"ram":{"total":100,"transferred":40,"remaining":60}}`),
		ex("migrate_cancel", "", `{}`),
	)
	ctx := context.Background()
	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	st, err := qmp.QueryStatus(ctx, m)
	check("query-status", err)
	if !st.Running || st.Status != "running" {
		t.Errorf("query-status = %+v", st)
	}
	check("stop", qmp.Stop(ctx, m))
	check("cont", qmp.Cont(ctx, m))
	check("system_powerdown", qmp.SystemPowerdown(ctx, m))
	check("system_reset", qmp.SystemReset(ctx, m))
	check("balloon", qmp.Balloon(ctx, m, 64<<20))
	bal, err := qmp.QueryBalloon(ctx, m)
	check("query-balloon", err)
	if bal.Actual != 64<<20 {
		t.Errorf("balloon = %+v", bal)
	}
	var gs struct {
		Stats      map[string]int64 `json:"stats"`
		LastUpdate int64            `json:"last-update"`
	}
	check("qom-get", qmp.QOMGet(ctx, m, "/machine/peripheral/balloon0", "guest-stats", &gs))
	if gs.Stats["stat-free-memory"] != 5 || gs.LastUpdate != 7 {
		t.Errorf("qom-get = %+v", gs)
	}
	cpus, err := qmp.QueryCPUsFast(ctx, m)
	check("query-cpus-fast", err)
	if len(cpus) != 1 || cpus[0].ThreadID != 4242 {
		t.Errorf("cpus = %+v", cpus)
	}
	out, err := qmp.HumanMonitorCommand(ctx, m, "info version")
	check("hmp", err)
	if out != "7.2.0\r\n" {
		t.Errorf("hmp = %q", out)
	}
	check("device_add", qmp.DeviceAdd(ctx, m, map[string]any{"driver": "virtio-blk-pci", "id": "virtio-disk1", "drive": "libvirt-2-format"}))
	check("device_del", qmp.DeviceDel(ctx, m, "virtio-disk1"))
	check("netdev_add", qmp.NetdevAdd(ctx, m, raw(`{"type":"user","id":"hostnet1"}`)))
	check("netdev_del", qmp.NetdevDel(ctx, m, "hostnet1"))
	chr, err := qmp.QueryChardev(ctx, m)
	check("query-chardev", err)
	if len(chr) != 1 || chr[0].Filename != "pty:/dev/pts/5" {
		t.Errorf("chardev = %+v", chr)
	}
	vnc, err := qmp.QueryVNC(ctx, m)
	check("query-vnc", err)
	if !vnc.Enabled || vnc.Service != "5901" {
		t.Errorf("vnc = %+v", vnc)
	}
	check("set_password", qmp.SetPassword(ctx, m, "vnc", "s3cret"))
	check("expire_password", qmp.ExpirePassword(ctx, m, "vnc", "never"))
	check("screendump", qmp.Screendump(ctx, m, qmp.ScreendumpArgs{Filename: "/tmp/x.ppm"}))
	check("screendump png", qmp.Screendump(ctx, m, qmp.ScreendumpArgs{Filename: "/tmp/x.png", Device: "video0", Head: 1, Format: "png"}))
	check("blockdev-add", qmp.BlockdevAdd(ctx, m, map[string]any{"driver": "file", "filename": "/i.img", "node-name": "libvirt-3-storage"}))
	check("blockdev-del", qmp.BlockdevDel(ctx, m, "libvirt-3-storage"))
	blocks, err := qmp.QueryBlock(ctx, m)
	check("query-block", err)
	if len(blocks) != 2 || blocks[0].TrayOpen == nil || !*blocks[0].TrayOpen || blocks[1].TrayOpen != nil {
		t.Errorf("blocks = %+v", blocks)
	}
	nodes, err := qmp.QueryNamedBlockNodes(ctx, m)
	check("query-named-block-nodes", err)
	if len(nodes) != 1 || nodes[0].Image.VirtualSize != 1<<20 || nodes[0].Drv != "qcow2" {
		t.Errorf("nodes = %+v", nodes)
	}
	bs, err := qmp.QueryBlockstats(ctx, m, false)
	check("query-blockstats", err)
	if len(bs) != 1 || bs[0].Stats.WrBytes != 1024 || bs[0].Stats.WrHighestOffset != 7 {
		t.Errorf("blockstats = %+v", bs)
	}
	_, err = qmp.QueryBlockstats(ctx, m, true)
	check("query-blockstats nodes", err)
	check("open-tray", qmp.BlockdevOpenTray(ctx, m, "sata0-0-0", true))
	check("remove-medium", qmp.BlockdevRemoveMedium(ctx, m, "sata0-0-0"))
	check("insert-medium", qmp.BlockdevInsertMedium(ctx, m, "sata0-0-0", "libvirt-4-format"))
	check("close-tray", qmp.BlockdevCloseTray(ctx, m, "sata0-0-0"))
	check("transaction", qmp.Transaction(ctx, m, []qmp.TransactionAction{qmp.BlockdevSnapshotAction("libvirt-1-format", "libvirt-5-format")}))
	check("block-commit", qmp.BlockCommit(ctx, m, qmp.BlockCommitArgs{JobID: "commit-vda-libvirt-2-format", Device: "libvirt-1-format", TopNode: "libvirt-2-format", BaseNode: "libvirt-3-format", AutoFinalize: true}))
	check("block-commit speed", qmp.BlockCommit(ctx, m, qmp.BlockCommitArgs{JobID: "c2", Device: "d", TopNode: "t", BaseNode: "b", Speed: 1 << 20}))
	check("block-stream", qmp.BlockStream(ctx, m, qmp.BlockStreamArgs{JobID: "pull-vda-x", Device: "x", AutoFinalize: true}))
	check("block-stream base", qmp.BlockStream(ctx, m, qmp.BlockStreamArgs{JobID: "p2", Device: "x", BaseNode: "y", Speed: 5, AutoFinalize: true}))
	check("blockdev-mirror", qmp.BlockdevMirror(ctx, m, qmp.BlockdevMirrorArgs{JobID: "copy-vda-x", Device: "x", Target: "y", Sync: "top", Granularity: 65536, BufSize: 1024, CopyMode: "write-blocking", AutoFinalize: true}))
	check("block-job-cancel", qmp.BlockJobCancel(ctx, m, "copy-vda-x", nil))
	force := false
	check("block-job-cancel force", qmp.BlockJobCancel(ctx, m, "copy-vda-x", &force))
	check("block-job-set-speed", qmp.BlockJobSetSpeed(ctx, m, "copy-vda-x", 0))
	check("job-complete", qmp.JobComplete(ctx, m, "j"))
	check("job-finalize", qmp.JobFinalize(ctx, m, "j"))
	check("job-dismiss", qmp.JobDismiss(ctx, m, "j"))
	jobs, err := qmp.QueryJobs(ctx, m)
	check("query-jobs", err)
	if want := []qmp.JobInfo{{ID: "j", Type: "commit", Status: "concluded", CurrentProg: 10, TotalProg: 10, Error: "boom"}}; !reflect.DeepEqual(jobs, want) {
		t.Errorf("jobs = %+v", jobs)
	}
	bj, err := qmp.QueryBlockJobs(ctx, m)
	check("query-block-jobs", err)
	if len(bj) != 1 || bj[0].Device != "j" || bj[0].Offset != 5 || bj[0].Ready == nil || *bj[0].Ready {
		t.Errorf("block jobs = %+v", bj)
	}
	check("caps", qmp.MigrateSetCapabilities(ctx, m, []qmp.MigrationCapability{{Capability: "events", State: true}}))
	bw := uint64(1 << 40)
	check("params", qmp.MigrateSetParameters(ctx, m, qmp.MigrateParameters{MaxBandwidth: &bw}))
	check("migrate", qmp.Migrate(ctx, m, "fd:govirt-save"))
	check("migrate-incoming", qmp.MigrateIncoming(ctx, m, "tcp:[::]:49152"))
	mi, err := qmp.QueryMigrate(ctx, m)
	check("query-migrate", err)
	if !mi.Active() || mi.RAM.Transferred != 40 || len(mi.BlockedReasons) != 1 {
		t.Errorf("migrate info = %+v", mi)
	}
	check("migrate_cancel", qmp.MigrateCancel(ctx, m))
	if !srv.Done() {
		t.Errorf("%d exchanges not replayed", srv.Remaining())
	}
}

// TestTypedCommandErrors: QMP error replies match the class sentinels
// and stay *qmp.Error for callers that need the text.
func TestTypedCommandErrors(t *testing.T) {
	m, _ := dialFake(t, qmp.Options{}, qmptest.Options{},
		qmptest.Fail("human-monitor-command", map[string]string{"command-line": "x"}, "CommandNotFound", "The command human-monitor-command has not been found"),
		qmptest.Fail("device_del", map[string]string{"id": "nope"}, "DeviceNotFound", "Device 'nope' not found"),
		qmptest.Exchange{Execute: "query-status", Reply: ret(`"not an object"`)},
	)
	ctx := context.Background()
	_, err := qmp.HumanMonitorCommand(ctx, m, "x")
	var qe *qmp.Error
	if !errors.Is(err, qmp.ErrCommandNotFound) || !errors.As(err, &qe) || qe.Command != "human-monitor-command" {
		t.Errorf("hmp: %v", err)
	}
	err = qmp.DeviceDel(ctx, m, "nope")
	if !errors.Is(err, qmp.ErrDeviceNotFound) || errors.Is(err, qmp.ErrCommandNotFound) {
		t.Errorf("device_del: %v", err)
	}
	if _, err := qmp.QueryStatus(ctx, m); err == nil {
		t.Error("a reply of the wrong shape decoded")
	}
}

// TestWithTimeout: a context's WithTimeout replaces the table entry, both
// shorter (a hung command fails early) and longer (a slow reply is
// waited for). Bounds are loose: the machine may be loaded.
func TestWithTimeout(t *testing.T) {
	m, _ := dialFake(t, qmp.Options{Timeouts: map[string]time.Duration{"cont": 20 * time.Millisecond}}, qmptest.Options{},
		qmptest.Exchange{Execute: "cont", Reply: ret(`{}`), ReplyDelay: 200 * time.Millisecond},
		qmptest.Exchange{Execute: "query-status", NoReply: true},
	)
	if err := qmp.Cont(qmp.WithTimeout(context.Background(), 30*time.Second), m); err != nil {
		t.Fatalf("cont with a longer timeout: %v", err)
	}
	start := time.Now()
	_, err := qmp.QueryStatus(qmp.WithTimeout(context.Background(), 50*time.Millisecond), m)
	if !errors.Is(err, qmp.ErrTimeout) {
		t.Fatalf("query-status: %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("the 10s table entry won over WithTimeout (%v)", d)
	}
}

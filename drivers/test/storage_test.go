package test

import (
	"bytes"
	"testing"

	"govirt/driver"
	"govirt/virerr"
)

func defaultPool(t *testing.T, c *conn) driver.Pool {
	t.Helper()
	p, err := c.LookupStoragePoolByName("default-pool")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVolumes(t *testing.T) {
	c := openDefault(t)
	p := defaultPool(t, c)
	v, err := c.StorageVolCreateXML(p, "<volume><name>v9</name><capacity unit='M'>1</capacity></volume>", 0)
	if err != nil {
		t.Fatal(err)
	}
	if v.Key != "/default-pool/v9" {
		t.Fatalf("key %q", v.Key)
	}
	const want = `<volume type='file'>
  <name>v9</name>
  <key>/default-pool/v9</key>
  <capacity unit='bytes'>1048576</capacity>
  <allocation unit='bytes'>1048576</allocation>
  <target>
    <path>/default-pool/v9</path>
    <format type='raw'/>
  </target>
</volume>
`
	if x, _ := c.StorageVolGetXMLDesc(v, 0); x != want {
		t.Fatalf("vol xml:\n%s", x)
	}
	if info, _ := c.StorageVolGetInfo(v); info != (driver.VolInfo{Type: volFile, Capacity: 1048576, Allocation: 1048576}) {
		t.Fatalf("vol info %+v", info)
	}
	if pi, _ := c.StoragePoolGetInfo(p); pi.Allocation != 1048576 || pi.Available != 107374182400-1048576 {
		t.Fatalf("pool info %+v", pi)
	}
	_, err = c.StorageVolCreateXML(p, "<volume><name>v9</name><capacity>1</capacity></volume>", 0)
	wantErr(t, err, virerr.ErrOperationFailed, virerr.FromTest, "operation failed: storage vol already exists")
	for _, look := range []func() (driver.Vol, error){
		func() (driver.Vol, error) { return c.LookupStorageVolByKey("/default-pool/v9") },
		func() (driver.Vol, error) { return c.LookupStorageVolByPath("/default-pool/v9") },
		func() (driver.Vol, error) { return c.LookupStorageVolByName(p, "v9") },
	} {
		if got, err := look(); err != nil || got != v {
			t.Fatalf("lookup %+v %v", got, err)
		}
	}
	_, err = c.LookupStorageVolByKey("nokey")
	wantErr(t, err, virerr.ErrNoStorageVol, virerr.FromTest, "Storage volume not found: no storage vol with matching key 'nokey'")
	if n, _ := c.StoragePoolNumOfVolumes(p); n != 1 {
		t.Fatal(n)
	}
	if err := c.StorageVolDelete(v, 0); err != nil {
		t.Fatal(err)
	}
	if pi, _ := c.StoragePoolGetInfo(p); pi.Allocation != 0 {
		t.Fatalf("pool info after delete %+v", pi)
	}
}

func TestVolumeUploadDownload(t *testing.T) {
	c := openDefault(t)
	p := defaultPool(t, c)
	v, err := c.StorageVolCreateXML(p, "<volume><name>big</name><capacity unit='MiB'>80</capacity></volume>", 0)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 64<<20+12345)
	// A pattern that does not repeat at any power-of-two stride, filled
	// by doubling copies (a byte loop is slow under the race detector).
	for i := 0; i < 4093; i++ {
		data[i] = byte(i * 7)
	}
	for n := 4093; n < len(data); n *= 2 {
		copy(data[n:], data[:n])
	}
	if err := c.StorageVolUpload(v, bytes.NewReader(data), 0, uint64(len(data)), 0); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	out.Grow(len(data))
	if err := c.StorageVolDownload(v, &out, 0, uint64(len(data)), 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Fatal("download differs from upload")
	}
}

func TestVolumeContent(t *testing.T) {
	c := openDefault(t)
	p := defaultPool(t, c)
	v, err := c.StorageVolCreateXML(p, "<volume><name>small</name><capacity>4096</capacity></volume>", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StorageVolUpload(v, bytes.NewReader([]byte("0123456789")), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	// A write at an offset, then the whole volume: capacity long, zeros
	// past the data.
	if err := c.StorageVolUpload(v, bytes.NewReader([]byte("hello")), 2, 5, 0); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := c.StorageVolDownload(v, &out, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	got := out.Bytes()
	if len(got) != 4096 || string(got[:10]) != "01hello789" || got[4095] != 0 {
		t.Fatalf("whole download wrong: len %d, %q", len(got), got[:10])
	}
	clone, err := c.StorageVolCreateXMLFrom(p, "<volume><name>copy</name><capacity>4096</capacity></volume>", v, 0)
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	c.StorageVolDownload(clone, &out, 2, 5, 0)
	if out.String() != "hello" {
		t.Fatalf("clone content %q", out.String())
	}
	if err := c.StorageVolWipe(v, 0); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	c.StorageVolDownload(v, &out, 2, 5, 0)
	if out.String() != "\x00\x00\x00\x00\x00" {
		t.Fatalf("wiped content %q", out.String())
	}
}

func TestPoolLifecycle(t *testing.T) {
	c := openDefault(t)
	rec := record(t, c)
	p := defaultPool(t, c)
	wantErr(t, c.StoragePoolUndefine(p), virerr.ErrOperationInvalid, virerr.FromTest,
		"Requested operation is not valid: storage pool 'default-pool' is active")
	if err := c.StoragePoolRefresh(p, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.StoragePoolDestroy(p); err != nil {
		t.Fatal(err)
	}
	_, err := c.StoragePoolListAllVolumes(p, 0)
	wantErr(t, err, virerr.ErrOperationInvalid, virerr.FromTest, "Requested operation is not valid: storage pool is not active")
	wantErr(t, c.StoragePoolDestroy(p), virerr.ErrOperationInvalid, virerr.FromTest,
		"Requested operation is not valid: storage pool 'default-pool' is not active")
	if err := c.StoragePoolBuild(p, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.StoragePoolCreate(p, 0); err != nil {
		t.Fatal(err)
	}
	p2, err := c.StoragePoolDefineXML("<pool type='dir'><name>p2</name><target><path>/tmp</path></target></pool>", 0)
	if err != nil {
		t.Fatal(err)
	}
	if on, _ := c.StoragePoolIsActive(p2); on {
		t.Fatal("defined pool active")
	}
	if err := c.StoragePoolUndefine(p2); err != nil {
		t.Fatal(err)
	}
	p4, err := c.StoragePoolCreateXML("<pool type='logical'><name>p4</name><source><name>vg</name></source><target><path>/dev/vg</path></target></pool>", 0)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, c.StoragePoolSetAutostart(p4, true), virerr.ErrInvalidArg, virerr.FromTest, "invalid argument: pool has no config file")
	if x, _ := c.StoragePoolGetXMLDesc(p4, 0); !bytes.Contains([]byte(x), []byte("    <name>vg</name>\n    <format type='lvm2'/>\n")) {
		t.Fatalf("logical pool xml:\n%s", x)
	}
	c.StoragePoolDestroy(p4)
	if _, err := c.LookupStoragePoolByName("p4"); err == nil {
		t.Fatal("transient pool survives destroy")
	}
	_, err = c.LookupStoragePoolByName("nope")
	wantErr(t, err, virerr.ErrNoStoragePool, virerr.FromTest, "Storage pool not found: no storage pool with matching name 'nope'")

	want := []driver.PoolEvent{
		{Pool: p, Refresh: true},
		{Pool: p, Event: driver.PoolEventStopped},
		{Pool: p, Event: driver.PoolEventCreated},
		{Pool: p, Event: driver.PoolEventStarted},
		{Pool: p2, Event: driver.PoolEventDefined},
		{Pool: p2, Event: driver.PoolEventUndefined},
		{Pool: p4, Event: driver.PoolEventStarted},
		{Pool: p4, Event: driver.PoolEventStopped},
	}
	evs := rec.wait(t, len(want))
	for i, w := range want {
		if evs[i].(driver.PoolEvent) != w {
			t.Fatalf("event %d: %+v, want %+v", i, evs[i], w)
		}
	}
}

func TestNetworks(t *testing.T) {
	c := openDefault(t)
	rec := record(t, c)
	n, _ := c.LookupNetworkByName("default")
	wantErr(t, c.NetworkUndefine(n), virerr.ErrOperationInvalid, virerr.FromTest,
		"Requested operation is not valid: Network 'default' is still running")
	wantErr(t, c.NetworkCreate(n), virerr.ErrOperationInvalid, virerr.FromTest,
		"Requested operation is not valid: Network 'default' is already running")
	n2, err := c.NetworkDefineXML("<network><name>n2</name><bridge name='br5'/><ip address='10.0.0.1' netmask='255.255.255.0'/></network>", 0)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := c.NetworkGetXMLDesc(n2, 0)
	want := "<network>\n  <name>n2</name>\n  <uuid>" + n2.UUID.String() + "</uuid>\n  <bridge name='br5' stp='on' delay='0'/>\n" +
		"  <ip address='10.0.0.1' netmask='255.255.255.0'>\n  </ip>\n</network>\n"
	if x != want {
		t.Fatalf("net xml:\n%s", x)
	}
	if err := c.NetworkCreate(n2); err != nil {
		t.Fatal(err)
	}
	if err := c.NetworkDestroy(n2); err != nil {
		t.Fatal(err)
	}
	n3, _ := c.NetworkDefineXML("<network><name>n3</name></network>", 0)
	_, err = c.NetworkGetBridgeName(n3)
	wantErr(t, err, virerr.ErrInternalError, virerr.FromTest, "internal error: network 'n3' does not have a bridge name.")
	_, err = c.NetworkDefineXML("<network><name>n3</name><uuid>11111111-2222-3333-4444-555555555555</uuid></network>", 0)
	wantErr(t, err, virerr.ErrOperationFailed, virerr.FromNetwork, "operation failed: network 'n3' already exists with uuid "+n3.UUID.String())
	if err := c.NetworkSetAutostart(n, true); err != nil {
		t.Fatal(err)
	}
	if on, _ := c.NetworkGetAutostart(n); !on {
		t.Fatal("autostart not set")
	}
	tn, err := c.NetworkCreateXML("<network><name>tmp</name></network>", 0)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := c.NetworkIsPersistent(tn); p {
		t.Fatal("created network persistent")
	}
	c.NetworkDestroy(tn)
	if _, err := c.LookupNetworkByName("tmp"); err == nil {
		t.Fatal("transient network survives destroy")
	}
	want2 := []int32{driver.NetworkEventDefined, driver.NetworkEventStarted, driver.NetworkEventStopped,
		driver.NetworkEventDefined, driver.NetworkEventStarted, driver.NetworkEventStopped}
	evs := rec.wait(t, len(want2))
	for i, w := range want2 {
		if e := evs[i].(driver.NetworkEvent); e.Event != w {
			t.Fatalf("event %d: %+v, want %d", i, e, w)
		}
	}
}

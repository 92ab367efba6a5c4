package command

import (
	"strings"
	"testing"

	"govirt/conf"
)

func tuneDef(t *testing.T, extra string) *conf.Domain {
	t.Helper()
	def, err := conf.ParseDomain([]byte(`<domain type='qemu'><name>t</name><memory>65536</memory>`+extra+
		`<os><type arch='x86_64' machine='q35'>hvm</type></os></domain>`), 0)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

func TestParseTunables(t *testing.T) {
	tu, err := ParseTunables(tuneDef(t, `<blkiotune><weight>300</weight>
	  <device><path>/dev/vda</path><weight>200</weight><read_iops_sec>10</read_iops_sec><write_bytes_sec>4096</write_bytes_sec></device></blkiotune>
	  <memtune><hard_limit unit='MiB'>1024</hard_limit><soft_limit unit='G'>1</soft_limit></memtune>
	  <cputune><shares>512</shares><period>100000</period><quota>-1</quota><global_quota>50000</global_quota>
	    <emulator_period>20000</emulator_period><iothread_quota>3000</iothread_quota></cputune>
	  <resource><partition>/machine/web</partition></resource>`))
	if err != nil {
		t.Fatal(err)
	}
	if !tu.SharesSet || tu.Shares != 512 || tu.Period != 100000 || tu.Quota != -1 || tu.GlobalQuota != 50000 ||
		tu.EmulatorPeriod != 20000 || tu.IOThreadQuota != 3000 {
		t.Errorf("cputune %+v", tu)
	}
	if tu.HardLimit != 1048576 || tu.SoftLimit != 1048576 || tu.SwapHardLimit != MemUnlimited {
		t.Errorf("memtune %d %d %d", tu.HardLimit, tu.SoftLimit, tu.SwapHardLimit)
	}
	if tu.BlkioWeight != 300 || len(tu.BlkioDevices) != 1 || tu.BlkioDevices[0] != (BlkioDevice{Path: "/dev/vda", Weight: 200, ReadIops: 10, WriteBps: 4096}) {
		t.Errorf("blkiotune %+v", tu.BlkioDevices)
	}
	if tu.Partition != "/machine/web" {
		t.Errorf("partition %q", tu.Partition)
	}
	none, err := ParseTunables(tuneDef(t, ""))
	if err != nil || none.SharesSet || none.HardLimit != MemUnlimited || none.Partition != "" {
		t.Errorf("empty: %+v %v", none, err)
	}
	for _, c := range []struct{ xml, msg string }{
		{`<memtune><min_guarantee>1000</min_guarantee></memtune>`, "unsupported configuration: Parameter 'min_guarantee' not supported by QEMU."},
		{`<cputune><shares>1</shares></cputune>`, "unsupported configuration: Value of cputune 'shares' must be in range [2, 262144]"},
		{`<cputune><iothread_period>999</iothread_period></cputune>`, "unsupported configuration: Value of cputune 'iothread_period' must be in range [1000, 1000000]"},
		{`<cputune><global_quota>17592186044416</global_quota></cputune>`, "unsupported configuration: Value of cputune 'global_quota' must be in range [1000, 17592186044415]"},
		{`<cputune><emulator_quota>x</emulator_quota></cputune>`, "XML error: can't parse cputune emulator quota value"},
		{`<blkiotune><device><path>/dev/a</path><read_bytes_sec>-1</read_bytes_sec></device></blkiotune>`, "unsupported configuration: could not parse read bytes sec -1"},
		{`<blkiotune><device><weight>1</weight></device></blkiotune>`, "unsupported configuration: missing per-device path"},
	} {
		_, err := ParseTunables(tuneDef(t, c.xml))
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want %q", c.xml, err, c.msg)
		}
	}
}

package qemu

import (
	"strings"
	"testing"

	"govirt/conf"
	"govirt/driver"
)

// qemuDomainIOThreadParseParams and qemuDomainIOThreadValidate's
// refusals, with libvirt's texts.
func TestIOThreadParamChecks(t *testing.T) {
	def, err := conf.ParseDomain([]byte(`<domain type='qemu'><name>x</name><memory>65536</memory><vcpu>1</vcpu>
<iothreads>1</iothreads><iothreadids><iothread id='1' thread_pool_max='4'/></iothreadids><os><type>hvm</type></os></domain>`), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		params []driver.TypedParam
		live   bool
		want   string
	}{
		{[]driver.TypedParam{{Field: "poll_max_ns", Value: uint64(1 << 31)}}, true, "poll-max-ns (2147483648) must be less than or equal to 2147483647"},
		{[]driver.TypedParam{{Field: "poll_grow", Value: int32(1)}}, true, "invalid type 'int' for parameter 'poll_grow', expected 'uint'"},
		{[]driver.TypedParam{{Field: "thread_pool_min", Value: int32(-2)}}, true, "thread_pool_min (-2) must be equal to or greater than -1"},
		{[]driver.TypedParam{{Field: "thread_pool_max", Value: int32(0)}}, true, "thread_pool_max (0) must be a positive number or -1"},
		{[]driver.TypedParam{{Field: "thread_pool_min", Value: int32(-1)}}, true, "thread_pool_min (-1) must be equal to or greater than 0 for live change"},
		{[]driver.TypedParam{{Field: "thread_pool_min", Value: int32(5)}}, false, "thread_pool_min (5) can't be greater than thread_pool_max (4)"},
		{[]driver.TypedParam{{Field: "thread_pool_min", Value: int32(3)}}, false, ""},
	} {
		ch, err := parseIOThreadParams(1, c.params)
		if err == nil {
			err = validateIOThreadChange(def, ch, c.live)
		}
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v: %v", c.params, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%v: %v, want %q", c.params, err, c.want)
		}
	}
}

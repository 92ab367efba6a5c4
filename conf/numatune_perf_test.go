package conf

import (
	"strings"
	"testing"
)

func formatted(t *testing.T, d *Domain) string {
	t.Helper()
	b, err := d.Format(0)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const iothreadDom = `<domain type='qemu'><name>x</name><memory>65536</memory><vcpu>1</vcpu>%s<os><type>hvm</type></os></domain>`

// virDomainIOThreadIDDel: removing the last of 1..n by count keeps them
// implicit; removing one before the end makes the ids explicit. Pool
// bounds stay on the threads that keep them.
func TestIOThreadIDsAsLibvirt(t *testing.T) {
	d := mustParse(t, strings.Replace(iothreadDom, "%s", "<iothreads>3</iothreads>", 1), 0)
	d.DelIOThreadID(3)
	if out := formatted(t, d); !strings.Contains(out, "<iothreads>2</iothreads>") || strings.Contains(out, "iothreadids") {
		t.Errorf("after removing the last:\n%s", out)
	}
	d.DelIOThreadID(1)
	if out := formatted(t, d); !strings.Contains(out, "<iothreads>1</iothreads>\n  <iothreadids>\n    <iothread id='2'/>\n  </iothreadids>") {
		t.Errorf("after removing the first:\n%s", out)
	}
	lo, hi := 1, 8
	d.SetIOThreadPool(2, &lo, &hi)
	d.AddIOThreadID(7)
	out := formatted(t, d)
	if !strings.Contains(out, "<iothreads>2</iothreads>\n  <iothreadids>\n    <iothread id='2' thread_pool_min='1' thread_pool_max='8'/>\n    <iothread id='7'/>") {
		t.Errorf("after pool and add:\n%s", out)
	}
	if a, b := d.IOThreadPool(2); a != 1 || b != 8 {
		t.Errorf("IOThreadPool(2) = %d, %d", a, b)
	}
	if a, b := d.IOThreadPool(7); a != -1 || b != -1 {
		t.Errorf("IOThreadPool(7) = %d, %d", a, b)
	}
}

// virDomainNumatuneSet: a new <memory> is strict, a node set makes it
// static, a mode alone without a node set is refused for a static guest.
func TestSetNumatuneAsLibvirt(t *testing.T) {
	d := mustParse(t, strings.Replace(iothreadDom, "%s", "", 1), 0)
	if err := d.SetNumatune(-1, "0-1"); err != nil {
		t.Fatal(err)
	}
	if out := formatted(t, d); !strings.Contains(out, "<numatune>\n    <memory mode='strict' nodeset='0-1'/>\n  </numatune>") {
		t.Errorf("nodeset only:\n%s", out)
	}
	if err := d.SetNumatune(2, ""); err != nil {
		t.Fatal(err)
	}
	if out := formatted(t, d); !strings.Contains(out, "<memory mode='interleave' nodeset='0-1'/>") {
		t.Errorf("mode change:\n%s", out)
	}
	e := mustParse(t, strings.Replace(iothreadDom, "%s", "", 1), 0)
	if err := e.SetNumatune(1, ""); err == nil || err.Error() != "nodeset for NUMA memory tuning must be set if 'placement' is 'static'" {
		t.Errorf("mode without nodeset: %v", err)
	}
}

func TestSetPerfEvents(t *testing.T) {
	d := mustParse(t, strings.Replace(iothreadDom, "%s", "", 1), 0)
	order := []string{"cmt", "cpu_cycles", "page_faults"}
	d.SetPerfEvents(order, map[string]bool{"page_faults": true, "cmt": false})
	if out := formatted(t, d); !strings.Contains(out, "<perf>\n    <event name='cmt' enabled='no'/>\n    <event name='page_faults' enabled='yes'/>\n  </perf>") {
		t.Errorf("perf:\n%s", out)
	}
}

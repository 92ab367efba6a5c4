package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// graphicsPortCases are displays as written and what libvirtd 9.0 on
// this host (qemu.conf's defaults: no SPICE TLS) shows of them in
// `dumpxml --inactive` after define, or the error it refuses them with:
// the parser's reading of port, tlsPort and autoport
// (virDomainGraphicsDefParseXMLVNC/Spice with PARSE_INACTIVE: port -1 or
// none asks VNC for autoport, SPICE only with both ports -1 or
// autoport='yes', which drops the numbers), SPICE without ports nor
// autoport listening nowhere (virDomainDefPostParseGraphics), the
// formatter's autoport='yes|no' and compatibility listen/socket
// attributes. Recorded from libvirtd; checked against it again with
// GOVIRT_LIBVIRTD_COMPARE=1.
var graphicsPortCases = []struct{ in, want string }{
	{`<graphics type='vnc' port='-1'/>`,
		`<graphics type='vnc' port='-1' autoport='yes'><listen type='address'/></graphics>`},
	{`<graphics type='vnc' port='-1' autoport='no'/>`,
		`<graphics type='vnc' autoport='no'><listen type='address'/></graphics>`},
	{`<graphics type='vnc' port='5901'/>`,
		`<graphics type='vnc' port='5901' autoport='no'><listen type='address'/></graphics>`},
	{`<graphics type='vnc' port='5901' autoport='yes'/>`,
		`<graphics type='vnc' port='-1' autoport='yes'><listen type='address'/></graphics>`},
	{`<graphics type='vnc' port='5901' autoport='no'/>`,
		`<graphics type='vnc' port='5901' autoport='no'><listen type='address'/></graphics>`},
	{`<graphics type='vnc'/>`,
		`<graphics type='vnc' port='-1' autoport='yes'><listen type='address'/></graphics>`},
	{`<graphics type='vnc' autoport='no'/>`,
		`<graphics type='vnc' autoport='no'><listen type='address'/></graphics>`},
	{`<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>`,
		`<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'><listen type='address' address='127.0.0.1'/></graphics>`},
	{`<graphics type='spice' port='-1' tlsPort='-1'/>`,
		`<graphics type='spice' autoport='yes'><listen type='address'/></graphics>`},
	{`<graphics type='spice' port='-1'/>`,
		`<graphics type='spice' port='-1' autoport='no'><listen type='address'/></graphics>`},
	{`<graphics type='spice' port='-1' autoport='yes'/>`,
		`<graphics type='spice' autoport='yes'><listen type='address'/></graphics>`},
	{`<graphics type='spice' port='5903' tlsPort='5904'/>`,
		`unsupported configuration: spice TLS port set in XML configuration, but TLS is disabled in qemu.conf`},
	{`<graphics type='spice' port='5903' autoport='yes'/>`,
		`<graphics type='spice' autoport='yes'><listen type='address'/></graphics>`},
	{`<graphics type='spice' port='5903' tlsPort='-1'/>`,
		`<graphics type='spice' port='5903' tlsPort='-1' autoport='no'><listen type='address'/></graphics>`},
	{`<graphics type='spice' autoport='yes'/>`,
		`<graphics type='spice' autoport='yes'><listen type='address'/></graphics>`},
	{`<graphics type='spice'/>`,
		`<graphics type='spice'><listen type='none'/></graphics>`},
	{`<graphics type='spice' port='-1' tlsPort='-1' autoport='no'/>`,
		`<graphics type='spice' autoport='yes'><listen type='address'/></graphics>`},
	{`<graphics type='spice' port='0' tlsPort='-1'/>`,
		`<graphics type='spice' tlsPort='-1' autoport='no'><listen type='address'/></graphics>`},
	{`<graphics type='spice' port='-1' tlsPort='-1'><listen type='address' address='127.0.0.1'/></graphics>`,
		`<graphics type='spice' autoport='yes' listen='127.0.0.1'><listen type='address' address='127.0.0.1'/></graphics>`},
	{`<graphics type='vnc' port='-1' autoport='yes'><listen type='none'/></graphics>`,
		`<graphics type='vnc'><listen type='none'/></graphics>`},
	{`<graphics type='vnc' websocket='-1' port='-1'/>`,
		`<graphics type='vnc' port='-1' autoport='yes' websocket='-1'><listen type='address'/></graphics>`},
	{`<graphics type='spice' tlsPort='-1'/>`,
		`<graphics type='spice' tlsPort='-1' autoport='no'><listen type='address'/></graphics>`},
	{`<graphics type='vnc' socket='/tmp/x.sock'/>`,
		`<graphics type='vnc' socket='/tmp/x.sock'><listen type='socket' socket='/tmp/x.sock'/></graphics>`},
	{`<graphics type='vnc' port='5905' socket='/tmp/x.sock'/>`,
		`<graphics type='vnc' socket='/tmp/x.sock'><listen type='socket' socket='/tmp/x.sock'/></graphics>`},
	{`<graphics type='vnc'><listen type='socket' socket='/tmp/y.sock'/></graphics>`,
		`<graphics type='vnc' socket='/tmp/y.sock'><listen type='socket' socket='/tmp/y.sock'/></graphics>`},
	{`<graphics type='vnc' port='5905' autoport='yes'><listen type='none'/></graphics>`,
		`<graphics type='vnc'><listen type='none'/></graphics>`},
	{`<graphics type='vnc' port='5905'><listen type='address' address='0.0.0.0'/></graphics>`,
		`<graphics type='vnc' port='5905' autoport='no' listen='0.0.0.0'><listen type='address' address='0.0.0.0'/></graphics>`},
	{`<graphics type='vnc' port='-1' autoport='no' listen='0.0.0.0'/>`,
		`<graphics type='vnc' autoport='no' listen='0.0.0.0'><listen type='address' address='0.0.0.0'/></graphics>`},
	{`<graphics type='spice' port='-1' tlsPort='-1' autoport='yes'><listen type='address'/><image compression='off'/></graphics>`,
		`<graphics type='spice' autoport='yes'><listen type='address'/><image compression='off'/></graphics>`},
	{`<graphics type='spice' autoport='yes'><listen type='socket' socket='/tmp/s.sock'/></graphics>`,
		`<graphics type='spice'><listen type='socket' socket='/tmp/s.sock'/></graphics>`},
	{`<graphics type='spice'><listen type='socket'/></graphics>`,
		`<graphics type='spice'><listen type='socket'/></graphics>`},
	{`<graphics type='spice' port='5910' tlsPort='-1' autoport='yes'/>`,
		`<graphics type='spice' autoport='yes'><listen type='address'/></graphics>`},
	{`<graphics type='spice' port='5910' autoport='no' listen='127.0.0.1'/>`,
		`<graphics type='spice' port='5910' autoport='no' listen='127.0.0.1'><listen type='address' address='127.0.0.1'/></graphics>`},
	{`<graphics type='spice' listen='127.0.0.1'/>`,
		`<graphics type='spice'><listen type='none'/></graphics>`},
	{`<graphics type='spice' autoport='no'/>`,
		`<graphics type='spice'><listen type='none'/></graphics>`},
	{`<graphics type='spice' port='-1' tlsPort='-1'><listen type='none'/></graphics>`,
		`<graphics type='spice'><listen type='none'/></graphics>`},
	{`<graphics type='vnc' port='5900' autoport='yes' listen='127.0.0.1'><listen type='address' address='127.0.0.1'/></graphics>`,
		`<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'><listen type='address' address='127.0.0.1'/></graphics>`},
	{`<graphics type='vnc' autoport='bogus'/>`,
		`<graphics type='vnc' port='-1' autoport='yes'><listen type='address'/></graphics>`},
	{`<graphics type='vnc' port='5900' autoport='bogus'/>`,
		`<graphics type='vnc' port='5900' autoport='no'><listen type='address'/></graphics>`},
	{`<graphics type='spice' port='5900' autoport='bogus'/>`,
		`XML error: Invalid value for attribute 'autoport' in element 'graphics': 'bogus'.`},
	{`<graphics type='vnc' port='-1'/><graphics type='spice' port='-1' tlsPort='-1'/>`,
		`<graphics type='vnc' port='-1' autoport='yes'><listen type='address'/></graphics><graphics type='spice' autoport='yes'><listen type='address'/></graphics>`},
}

// graphicsElems are the <graphics> elements of a domain XML, on one line
// each without indentation.
var graphicsElems = regexp.MustCompile(`<graphics[^>]*/>|<graphics[^>]*[^/]>.*?</graphics>`)

// inactiveGraphics defines the display on uri, returns its inactive
// <graphics> (or the define error) and undefines it again.
func inactiveGraphics(t *testing.T, uri, dir string, i int, graphics string) string {
	t.Helper()
	name := fmt.Sprintf("gvgfxport%d", i)
	xml := fmt.Sprintf(`<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    %s
  </devices>
</domain>
`, name, graphics)
	path := filepath.Join(dir, name+".xml")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, rc := virsh(t, uri, "define", path); rc != 0 {
		msg := strings.TrimSpace(errOut)
		if _, last, ok := strings.Cut(msg, "\nerror: "); ok {
			msg = last
		}
		return strings.TrimPrefix(msg, "error: ")
	}
	defer virsh(t, uri, "undefine", name)
	out, errOut, rc := virsh(t, uri, "dumpxml", "--inactive", name)
	if rc != 0 {
		t.Fatalf("dumpxml --inactive %s: %s", name, errOut)
	}
	var flat []string
	for _, l := range strings.Split(out, "\n") {
		flat = append(flat, strings.TrimSpace(l))
	}
	return strings.Join(graphicsElems.FindAllString(strings.Join(flat, ""), -1), "")
}

// TestGraphicsPortsInactive defines VNC and SPICE displays with every
// spelling of their ports through virsh and checks `dumpxml --inactive`
// shows them as libvirtd does (autoport with port='-1' for VNC, SPICE's
// port='-1' tlsPort='-1' as autoport='yes'), and that libvirtd's
// refusals (a SPICE TLS port while spice_tls is off, an invalid
// autoport) are govirtd's too.
func TestGraphicsPortsInactive(t *testing.T) {
	needQEMU(t)
	d := startDaemon(t)
	dir := t.TempDir()
	compare := libvirtdCompare(t)
	for i, c := range graphicsPortCases {
		got := inactiveGraphics(t, d.URI("qemu"), dir, i, c.in)
		if got != c.want {
			t.Errorf("%s\n got  %s\n want %s", c.in, got, c.want)
		}
		if compare {
			if lv := inactiveGraphics(t, "qemu:///system", dir, i, c.in); lv != c.want {
				t.Errorf("libvirtd now shows %s as\n %s\n recorded %s", c.in, lv, c.want)
			}
		}
	}
}

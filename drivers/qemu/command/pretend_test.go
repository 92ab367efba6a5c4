package command

import (
	"slices"
	"strings"
	"testing"

	"govirt/conf"
)

// pretendDomain has what a pretend start shows differently from a real
// one: chardev files with logs, listening unix sockets, a tap with a
// script, an emulated TPM and a vsock.
const pretendDomain = `<domain type='qemu'>
  <name>pretend</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <memory unit='KiB'>219136</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/>
    <interface type='ethernet'>
      <mac address='52:54:00:11:22:33'/>
      <model type='virtio'/>
      <script path='/etc/qemu-ifup'/>
    </interface>
    <serial type='file'>
      <source path='/tmp/serial,x.log' append='off'/>
      <log file='/tmp/serial-log.log' append='on'/>
    </serial>
    <channel type='unix'>
      <source mode='bind' path='/tmp/chan.sock'/>
      <target type='virtio' name='org.example.0'/>
    </channel>
    <tpm model='tpm-tis'><backend type='emulator' version='2.0'/></tpm>
    <vsock model='virtio'><cid auto='yes'/></vsock>
    <memballoon model='none'/>
  </devices>
</domain>`

// TestPretendBuild checks Paths.Pretend against libvirt's pretend start
// (domxml-to-native): paths instead of passed descriptors, tap and
// vhost-net descriptors numbered without anything opened, a null TPM
// chardev, vsock's vhostfd -1; and that the same definition built for a
// real start still passes every descriptor.
func TestPretendBuild(t *testing.T) {
	cp, err := latestCaps()
	if err != nil {
		t.Skip(err)
	}
	defer func(f func(string) bool) { hostHasFile = f }(hostHasFile)
	hostHasFile = func(path string) bool { return path == "/dev/vhost-net" }
	build := func(pretend bool) []string {
		def, err := conf.ParseDomain([]byte(pretendDomain), 0)
		if err != nil {
			t.Fatal(err)
		}
		p := corpusPaths(def.Name)
		p.Pretend = pretend
		cl, err := Build(def, testHostCaps{cp}, p)
		if err != nil {
			t.Fatalf("pretend %v: %v", pretend, err)
		}
		return cl.Argv
	}
	has := func(argv []string, want string) bool {
		return slices.ContainsFunc(argv, func(a string) bool { return strings.Contains(a, want) })
	}
	pretend := build(true)
	for _, want := range []string{
		"file,id=charserial0,path=/tmp/serial,,x.log,append=off,logfile=/tmp/serial-log.log,logappend=on",
		"socket,id=charchannel0,path=/tmp/chan.sock,server=on,wait=off",
		`{"type":"tap","fd":"`, `"vhost":true,"vhostfd":"`,
		"null,id=chrtpm",
		`"guest-cid":0,"vhostfd":"-1"`,
	} {
		if !has(pretend, want) {
			t.Errorf("pretend start lacks %s:\n%s", want, strings.Join(pretend, " "))
		}
	}
	for _, bad := range []string{"-add-fd", "ifname", "/dev/fdset/"} {
		if has(pretend, bad) {
			t.Errorf("pretend start has %s:\n%s", bad, strings.Join(pretend, " "))
		}
	}
	real := build(false)
	for _, want := range []string{
		"-add-fd", "path=/dev/fdset/", "socket,id=charchannel0,fd=1729,server=on,wait=off",
		`{"type":"tap","fd":"3","vhost":true,"vhostfd":"44"`,
		"socket,id=chrtpm,path=/dev/test", `"guest-cid":42,"vhostfd":"6789"`,
	} {
		if !has(real, want) {
			t.Errorf("real start lacks %s:\n%s", want, strings.Join(real, " "))
		}
	}
}

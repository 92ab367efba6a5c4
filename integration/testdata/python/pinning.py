"""vCPU and emulator pinning on the test driver and the CPU set checks
at define time, printed one per line so that two daemons' transcripts
compare. Usage: pinning.py URI"""
import re
import sys
import libvirt

libvirt.registerErrorHandler(lambda *a: None, None)
conn = libvirt.open(sys.argv[1])


def show(label, fn):
    try:
        v = fn()
        if isinstance(v, str):
            v = re.sub(r"<uuid>[^<]*</uuid>", "<uuid/>", v).replace(" bridge='virbr0'", "")
        print("%s: %r" % (label, v))
    except libvirt.libvirtError as e:
        print("%s: error %d/%d: %s" % (label, e.get_error_code(), e.get_error_domain(), e.get_error_message()))


x = "<domain type='test'><name>p</name><memory>1024</memory><vcpu%s>4</vcpu><os><type>hvm</type></os>%s</domain>"
for label, cs, ct in (
        ("aaa", " cpuset='aaa'", ""),
        ("empty", " cpuset=''", ""),
        ("range", " cpuset='3-1'", ""),
        ("big", " cpuset='0-99999'", ""),
        ("vcpupin", "", "<cputune><vcpupin vcpu='0' cpuset='zz'/></cputune>"),
        ("emulatorpin", "", "<cputune><emulatorpin cpuset='1-'/></cputune>"),
        ("iothreadpin", "", "<iothreads>1</iothreads><cputune><iothreadpin iothread='1' cpuset='x'/></cputune>")):
    show("define." + label, lambda: conn.defineXML(x % (cs, ct)).name())

dom = conn.defineXML(x % (" current='2' cpuset='1,3-5,^4'", "<cputune><emulatorpin cpuset='2'/><vcpupin vcpu='1' cpuset='0'/></cputune>"))
show("xml.defined", lambda: dom.XMLDesc(0))
show("pininfo.inactive", lambda: dom.vcpuPinInfo(0))
show("emulatorpin.inactive", lambda: dom.emulatorPinInfo(0))
show("pin.inactive", lambda: dom.pinVcpu(0, (True,)))
dom.create()
show("pininfo", lambda: dom.vcpuPinInfo(0))
show("pininfo.config", lambda: dom.vcpuPinInfo(libvirt.VIR_DOMAIN_AFFECT_CONFIG))
show("pininfo.both", lambda: dom.vcpuPinInfo(3))
show("pin.0", lambda: dom.pinVcpu(0, (True, False, True)))
show("pin.3", lambda: dom.pinVcpu(3, (True,)))
show("pin.9", lambda: dom.pinVcpu(9, (True,)))
show("pin.flags", lambda: dom.pinVcpuFlags(1, (True,), libvirt.VIR_DOMAIN_AFFECT_LIVE))
show("pininfo.after", lambda: dom.vcpuPinInfo(0))
show("emulatorpin", lambda: dom.emulatorPinInfo(0))
show("pinemulator", lambda: dom.pinEmulator((False, True, True), 0))
show("pinemulator.empty", lambda: dom.pinEmulator((False, False), 0))
show("pinemulator.config", lambda: dom.pinEmulator((True,), libvirt.VIR_DOMAIN_AFFECT_CONFIG))
show("pinemulator.flags", lambda: dom.pinEmulator((True,), 4))
show("emulatorpin.after", lambda: dom.emulatorPinInfo(0))
show("emulatorpin.config", lambda: dom.emulatorPinInfo(libvirt.VIR_DOMAIN_AFFECT_CONFIG))
show("xml.live", lambda: dom.XMLDesc(0))
show("xml.config", lambda: dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
dom.destroy()
show("xml.after", lambda: dom.XMLDesc(0))
dom.undefine()
test = conn.lookupByName("test")
show("test.pininfo", lambda: test.vcpuPinInfo(0))
show("test.pin", lambda: test.pinVcpu(1, (False, True)))
show("test.xml", lambda: test.XMLDesc(0))

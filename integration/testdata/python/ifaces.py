"""Host interface calls of the test driver: define (new and redefine),
undefine, create, destroy, the change transaction, lists and XML,
printed one per line so that two daemons' transcripts compare.
Usage: ifaces.py URI"""
import sys
import libvirt

libvirt.registerErrorHandler(lambda *a: None, None)
conn = libvirt.open(sys.argv[1])


def show(label, fn):
    try:
        v = fn()
        if isinstance(v, list):
            v = sorted((x.name(), x.MACString(), x.isActive()) if hasattr(x, "MACString") else x for x in v)
        elif isinstance(v, libvirt.virInterface):
            v = (v.name(), v.MACString())
        print("%s: %r" % (label, v))
    except libvirt.libvirtError as e:
        print("%s: error %d/%d: %s" % (label, e.get_error_code(), e.get_error_domain(), e.get_error_message()))


def lists(tag):
    show(tag + ".all", lambda: conn.listAllInterfaces(0))
    show(tag + ".active", lambda: conn.listInterfaces())
    show(tag + ".inactive", lambda: conn.listDefinedInterfaces())
    show(tag + ".num", lambda: (conn.numOfInterfaces(), conn.numOfDefinedInterfaces()))


eth2 = """<interface type='ethernet' name='eth2'>
  <start mode='onboot'/>
  <mac address='aa:bb:cc:dd:ee:01'/>
  <mtu size='1500'/>
  <protocol family='ipv4'>
    <dhcp/>
  </protocol>
</interface>"""
br0 = """<interface type='bridge' name='br0'>
  <start mode='none'/>
  <protocol family='ipv4'>
    <ip address='10.0.0.1' prefix='24'/>
  </protocol>
  <bridge stp='off' delay='0.01'>
    <interface type='ethernet' name='eth9'>
      <mac address='aa:bb:cc:dd:ee:09'/>
    </interface>
  </bridge>
</interface>"""

lists("start")
show("commit.none", lambda: conn.changeCommit())
show("rollback.none", lambda: conn.changeRollback())
show("begin.flags", lambda: conn.changeBegin(1))
show("begin", lambda: conn.changeBegin())
show("begin.again", lambda: conn.changeBegin())
show("define.eth2", lambda: conn.interfaceDefineXML(eth2))
show("define.br0", lambda: conn.interfaceDefineXML(br0, 1))
show("define.flags", lambda: conn.interfaceDefineXML(eth2, 2))
show("define.bad", lambda: conn.interfaceDefineXML("<interface type='ethernet'/>"))
show("define.badroot", lambda: conn.interfaceDefineXML("<network/>"))
lists("defined")
for name in ("eth1", "eth2", "br0"):
    show("xml." + name, lambda: conn.interfaceLookupByName(name).XMLDesc(0))
show("xml.flags", lambda: conn.interfaceLookupByName("eth1").XMLDesc(1))
show("create.eth2", lambda: conn.interfaceLookupByName("eth2").create())
show("create.again", lambda: conn.interfaceLookupByName("eth2").create())
show("create.flags", lambda: conn.interfaceLookupByName("br0").create(1))
show("destroy.br0", lambda: conn.interfaceLookupByName("br0").destroy())
show("destroy.eth1", lambda: conn.interfaceLookupByName("eth1").destroy())
show("destroy.flags", lambda: conn.interfaceLookupByName("eth2").destroy(1))
lists("started")
show("redefine.eth2", lambda: conn.interfaceDefineXML(eth2.replace("aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02")))
show("active.eth2", lambda: conn.interfaceLookupByName("eth2").isActive())
show("lookup.mac", lambda: conn.interfaceLookupByMACString("aa:bb:cc:dd:ee:02"))
show("lookup.oldmac", lambda: conn.interfaceLookupByMACString("aa:bb:cc:dd:ee:01"))
show("rollback", lambda: conn.changeRollback())
lists("rolledback")
show("begin2", lambda: conn.changeBegin())
show("undefine.eth1", lambda: conn.interfaceLookupByName("eth1").undefine())
show("undefine.gone", lambda: conn.interfaceLookupByName("eth1").undefine())
show("define.br0.2", lambda: conn.interfaceDefineXML(br0))
show("commit", lambda: conn.changeCommit())
show("commit.again", lambda: conn.changeCommit())
lists("committed")
show("create.br0", lambda: conn.interfaceLookupByName("br0").create())
show("undefine.active", lambda: conn.interfaceLookupByName("br0").undefine())
lists("end")

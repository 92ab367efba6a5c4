#!/usr/bin/python3
"""virt-manager's snapshot calls (virtManager/details/snapshots.py and
virtManager/object/domain.py), one step per run:

  virtmanager_snapshots.py URI DOMAIN create NAME DESCRIPTION
  virtmanager_snapshots.py URI DOMAIN list
  virtmanager_snapshots.py URI DOMAIN revert NAME
  virtmanager_snapshots.py URI DOMAIN delete NAME

Each prints what virt-manager would show, one fact per line."""
import sys
import xml.etree.ElementTree as ET

import libvirt

uri, domname, step = sys.argv[1], sys.argv[2], sys.argv[3]
conn = libvirt.open(uri)
dom = conn.lookupByName(domname)


def find(name):
    # virt-manager keeps vmmDomainSnapshot objects from listAllSnapshots.
    for snap in dom.listAllSnapshots():
        if snap.getName() == name:
            return snap
    raise SystemExit("no snapshot " + name)


if step == "create":
    name, desc = sys.argv[4], sys.argv[5]
    # virtinst.DomainSnapshot.get_xml() for the dialog's name and description.
    xml = ("<domainsnapshot>\n  <name>%s</name>\n  <description>%s</description>\n"
           "</domainsnapshot>\n" % (name, desc))
    snap = dom.snapshotCreateXML(xml, 0)
    print("created", snap.getName())
elif step == "list":
    for snap in dom.listAllSnapshots():
        root = ET.fromstring(snap.getXMLDesc(0))
        disks = ",".join("%s:%s" % (d.get("name"), d.get("snapshot"))
                         for d in root.findall("./disks/disk"))
        mem = root.find("memory")
        print(snap.getName(), root.findtext("state"),
              mem.get("snapshot") if mem is not None else "-", disks,
              "current" if snap.isCurrent() else "-",
              root.findtext("description") or "-")
    print("has-current", dom.hasCurrentSnapshot())
elif step == "revert":
    snap = find(sys.argv[4])
    dom.revertToSnapshot(snap)
    state, reason = dom.state()
    print("reverted", state, reason)
elif step == "delete":
    find(sys.argv[4]).delete(0)
    print("deleted", len(dom.listAllSnapshots()))

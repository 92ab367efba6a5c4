# createXMLWithFiles and createWithFiles (virsh create/start --pass-fds)
# with real descriptors; argv: URI, domain XML file. Prints one line per
# call: its result or its error's code, domain and message.
import os
import sys

import libvirt

libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1])
xml = open(sys.argv[2]).read()


def show(tag, fn):
    try:
        print(tag, 'ok', fn())
    except libvirt.libvirtError as e:
        print(tag, 'err', e.get_error_code(), e.get_error_domain(), e.get_error_message())


def pipes(n):
    fds = []
    for _ in range(n):
        r, w = os.pipe()
        os.write(w, b'x')
        os.close(w)
        fds.append(r)
    return fds


show('createXMLWithFiles', lambda: c.createXMLWithFiles(xml, pipes(2), 0).name())
show('state', lambda: c.lookupByName('demo').state())
show('createXMLWithFiles again', lambda: c.createXMLWithFiles(xml, pipes(1), 0).name())
show('createXMLWithFiles flags', lambda: c.createXMLWithFiles(xml, pipes(1), 1 << 9).name())
show('destroy', lambda: c.lookupByName('demo').destroy())
show('createXMLWithFiles none', lambda: c.createXMLWithFiles(xml, [], 0).name())
show('destroy', lambda: c.lookupByName('demo').destroy())
d = c.defineXML(xml)
show('createWithFiles', lambda: d.createWithFiles(pipes(3), 0))
show('state', lambda: d.state())
show('createWithFiles running', lambda: d.createWithFiles(pipes(1), 0))
show('destroy', lambda: d.destroy())
show('createWithFiles flags', lambda: d.createWithFiles(pipes(1), 1))
show('undefine', lambda: d.undefine())
c.close()

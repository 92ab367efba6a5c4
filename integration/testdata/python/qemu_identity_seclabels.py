# virConnectSetIdentity, security labels and the *WithFiles calls on the
# QEMU driver; argv: URI, guest name. Defines a diskless guest, starts
# and removes it. Prints one line per call: its result or its error's
# code, domain and message.
import os
import sys

import libvirt

libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1])
name = sys.argv[2]
xml = ("<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
       "<os><type arch='x86_64' machine='q35'>hvm</type></os><devices/></domain>") % name


def show(tag, fn):
    try:
        print(tag, 'ok', fn())
    except libvirt.libvirtError as e:
        print(tag, 'err', e.get_error_code(), e.get_error_domain(), e.get_error_message())
    except TypeError as e:
        print(tag, 'TypeError', e)


show('identity', lambda: c.setIdentity({'user-name': 'nobody', 'unix-user-id': 65534,
                                         'group-name': 'nogroup', 'unix-group-id': 65534,
                                         'process-id': 42, 'process-time': 7,
                                         'selinux-context': 'x', 'system.token': 't'}))
show('identity empty', lambda: c.setIdentity({}))
show('identity flags', lambda: c.setIdentity({}, 7))
show('identity unknown', lambda: c.setIdentity({'bogus': 'x'}))
show('identity readonly', lambda: libvirt.openReadOnly(sys.argv[1]).setIdentity({'user-name': 'x'}))
show('model', c.getSecurityModel)
caps = c.getCapabilities()
print('secmodels', ' '.join(l.strip() for l in caps[caps.index('<secmodel>'):caps.index('</host>')].split('\n') if l.strip()))
d = c.defineXML(xml)
try:
    show('label off', d.securityLabel)
    show('labels off', d.securityLabelList)
    r, w = os.pipe()
    show('createWithFiles', lambda: d.createWithFiles([r]))
    show('createXMLWithFiles', lambda: c.createXMLWithFiles(xml.replace(name, name + '-2'), [r]))
    d.create()
    show('label on', d.securityLabel)
    show('labels on', d.securityLabelList)
    d.destroy()
    show('labels after', d.securityLabelList)
finally:
    try:
        d.destroy()
    except libvirt.libvirtError:
        pass
    d.undefine()

# Calls of libvirt's test driver that virsh cannot make as a client can;
# argv: the test:///default URI, the same daemon's URI of a node file
# (test:///PATH), and a scratch directory. One line per call.
import os
import sys

import libvirt

libvirt.registerErrorHandler(lambda *a: None, None)
uri, fileuri, tmp = sys.argv[1:4]


def show(tag, fn):
    try:
        print(tag, 'ok', fn())
    except libvirt.libvirtError as e:
        print(tag, 'err', e.get_error_code(), e.get_error_domain(), e.get_error_message().replace(tmp, '<TMP>'))


c = libvirt.open(uri)
d = c.lookupByName('test')
show('securityLabelList', lambda: d.securityLabelList())
show('securityLabel', lambda: d.securityLabel())
show('launchSecurityInfo', lambda: d.launchSecurityInfo(0))
show('getFreePages', lambda: c.getFreePages([4, 2048], 0, 2, 0))
show('getFreePages flags', lambda: c.getFreePages([4], 0, 1, 1))
show('allocPages', lambda: c.allocPages({2048: 1}, 0, 1, 0))
show('setIOThreadParams none', lambda: d.setIOThreadParams(1, {'poll_max_ns': 5}, 0))
show('addIOThread', lambda: d.addIOThread(4, libvirt.VIR_DOMAIN_AFFECT_LIVE))
show('setIOThreadParams', lambda: d.setIOThreadParams(4, {'poll_max_ns': 9, 'poll_grow': 2, 'poll_shrink': 3}, libvirt.VIR_DOMAIN_AFFECT_LIVE))
show('stats', lambda: c.domainListGetStats([d], libvirt.VIR_DOMAIN_STATS_IOTHREAD)[0][1])
show('setIOThreadParams config', lambda: d.setIOThreadParams(4, {'poll_grow': 1}, libvirt.VIR_DOMAIN_AFFECT_CONFIG))
show('setIOThreadParams 0', lambda: d.setIOThreadParams(0, {'poll_grow': 1}, 0))
show('delIOThread', lambda: d.delIOThread(4, 0))
show('stats after del', lambda: c.domainListGetStats([d], libvirt.VIR_DOMAIN_STATS_IOTHREAD)[0][1])
core = os.path.join(tmp, 'core')
show('coreDumpWithFormat kdump', lambda: d.coreDumpWithFormat(core, libvirt.VIR_DOMAIN_CORE_DUMP_FORMAT_KDUMP_ZLIB, 0))
show('core written', lambda: open(core, 'rb').read())
show('coreDumpWithFormat bad', lambda: d.coreDumpWithFormat(core, 99, 0))
show('coreDump reset', lambda: d.coreDump(core, libvirt.VIR_DUMP_RESET | libvirt.VIR_DUMP_LIVE))
show('coreDump crash', lambda: d.coreDump(core, libvirt.VIR_DUMP_CRASH))
show('state', lambda: d.state())
show('create', lambda: d.create())
img = os.path.join(tmp, 'save.img')
show('save', lambda: d.save(img))
show('saveImageGetXMLDesc flags', lambda: c.saveImageGetXMLDesc(img, 2))
show('saveImageDefineXML flags', lambda: c.saveImageDefineXML(img, c.saveImageGetXMLDesc(img, 0), 1))
show('saveImageDefineXML', lambda: c.saveImageDefineXML(img, c.saveImageGetXMLDesc(img, 0).replace('>test<', '>test2<'), libvirt.VIR_DOMAIN_SAVE_PAUSED))
show('saveImage name', lambda: c.saveImageGetXMLDesc(img, 0).split('\n')[1].strip())
show('restore', lambda: c.restore(img))
show('restored', lambda: sorted(x.name() for x in c.listAllDomains()))
c.close()
f = libvirt.open(fileuri)
show('file getFreeMemory', lambda: f.getFreeMemory())
f.close()

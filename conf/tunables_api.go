package conf

import "govirt/virerr"

// SetElement replaces the top-level element called name (<blkiotune>,
// <memtune>, ...) by the document xml, or removes it when xml is empty;
// a new element goes where libvirt writes it. For drivers that rewrite a
// whole settings element at run time (the cgroup tunables).
func (d *Domain) SetElement(name string, xml []byte) error {
	if d.x == nil {
		d.x = newElem("domain")
	}
	var n *node
	if len(xml) > 0 {
		var err error
		if n, err = parseTree(xml, virerr.FromDomain, name); err != nil {
			return err
		}
	}
	if old := d.x.child(name); old != nil {
		if n == nil {
			d.x.removeChild(old)
			return nil
		}
		*old = *n
		return nil
	}
	if n != nil {
		d.x.insertChild(n)
	}
	return nil
}

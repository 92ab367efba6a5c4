package conf

// Tree is the disk's element as it would be written, for the parts of a
// disk the typed fields do not model (per-image <seclabel>, ...).
func (d *Disk) Tree() *Element { return &Element{d.toNode()} }

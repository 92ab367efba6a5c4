package conf

// FilterRef is an interface's <filterref filter=”> with its
// <parameter name=” value=”/> pairs in document order; filter is ""
// without the element. The nwfilter driver checks the parameters as
// libvirt's parser does.
func (i *Interface) FilterRef() (filter string, params [][2]string) {
	if i.x == nil {
		return "", nil
	}
	fr := i.x.child("filterref")
	if fr == nil {
		return "", nil
	}
	for _, p := range fr.childrenNamed("parameter") {
		params = append(params, [2]string{p.attr("name"), p.attr("value")})
	}
	return fr.attr("filter"), params
}

// SetInterfaceFilterRef gives n a copy of from's <filterref> (none when
// from has none), as a live NIC takes the filter an update-device gave
// it.
func SetInterfaceFilterRef(n, from *Interface) {
	if n.x == nil {
		n.x = newElem("interface")
	}
	if old := n.x.child("filterref"); old != nil {
		n.x.removeChild(old)
	}
	if from.x == nil {
		return
	}
	if fr := from.x.child("filterref"); fr != nil {
		n.x.insertChild(fr.clone())
	}
}

// dropForeignFilterRef removes the <filterref> of an interface whose type
// libvirt reads none for: virDomainNetDefParseXML parses it only for
// network, bridge and ethernet interfaces, so on any other (direct,
// user, vhostuser, ...) it is silently dropped and never instantiated.
func dropForeignFilterRef(n *node) {
	switch n.attr("type") {
	case "network", "bridge", "ethernet":
		return
	}
	if fr := n.child("filterref"); fr != nil {
		n.removeChild(fr)
	}
}

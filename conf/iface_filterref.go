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

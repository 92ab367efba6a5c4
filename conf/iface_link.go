package conf

// LinkState is the interface's <link state=”>: "up", "down", or "" when
// the element is absent (up).
func (i *Interface) LinkState() string { return i.x.str("link/@state") }

// SetLinkState writes <link state=”>; "" removes it.
func (i *Interface) SetLinkState(s string) {
	if i.x == nil {
		i.x = newElem("interface")
	}
	i.x.put("link/@state", s)
}

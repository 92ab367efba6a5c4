package test

import (
	"os"
	"path/filepath"
	"strconv"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// newFileInstance loads a node file in libvirt's testnode.xml format.
// Such an instance has no NUMA cells, as in libvirt.
func newFileInstance(path string) (*instance, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, virerr.New(virerr.FromXML, virerr.ErrXMLError, "failed to parse xml document '%s'", path)
	}
	in := newInstance()
	in.node = defaultNodeInfo
	in.capsXML = buildCapabilities(nil)
	if err := in.loadNode(data, path); err != nil {
		return nil, err
	}
	return in, nil
}

// resolveFile replaces an element carrying file=” with the root of that
// document, relative to the node file's directory.
func resolveFile(e *conf.Element, nodeFile string) (*conf.Element, error) {
	rel, _ := e.Attr("file")
	if rel == "" {
		return e, nil
	}
	p := rel
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(nodeFile), rel)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, virerr.New(virerr.FromXML, virerr.ErrXMLError, "failed to parse xml document '%s'", p)
	}
	return conf.ParseElement(data, virerr.FromXML)
}

// xmlUint reads an optional unsigned value; absent or empty is (0, false).
func xmlUint(e *conf.Element, name string) (uint64, bool, error) {
	c := e.Child(name)
	if c == nil || c.Text() == "" {
		return 0, false, nil
	}
	v, err := strconv.ParseUint(c.Text(), 10, 32)
	if err != nil {
		return 0, false, virerr.New(virerr.FromTest, virerr.ErrXMLError, "invalid node %s value", name)
	}
	return v, true, nil
}

// parseNodeInfo is testParseNodeInfo: <cpu> and <memory> override the
// default host.
func parseNodeInfo(root *conf.Element, ni *driver.NodeInfo) error {
	if c := root.Child("cpu"); c != nil {
		for _, f := range []struct {
			name string
			dst  *int32
		}{{"nodes", &ni.Nodes}, {"sockets", &ni.Sockets}, {"cores", &ni.Cores}, {"threads", &ni.Threads}} {
			v, ok, err := xmlUint(c, f.name)
			if err != nil {
				return virerr.New(virerr.FromTest, virerr.ErrXMLError, "invalid node cpu %s value", f.name)
			}
			if ok {
				*f.dst = int32(v)
			}
		}
		ni.CPUs = ni.Cores * ni.Threads * ni.Sockets * ni.Nodes
		if v, ok, err := xmlUint(c, "active"); err != nil {
			return virerr.New(virerr.FromTest, virerr.ErrXMLError, "invalid node cpu active value")
		} else if ok && int32(v) < ni.CPUs {
			ni.CPUs = int32(v)
		}
		if v, ok, err := xmlUint(c, "mhz"); err != nil {
			return virerr.New(virerr.FromTest, virerr.ErrXMLError, "invalid node cpu mhz value")
		} else if ok {
			ni.MHz = int32(v)
		}
		if m := c.Child("model"); m != nil && m.Text() != "" {
			ni.Model = m.Text()
		}
	} else {
		ni.CPUs = ni.Cores * ni.Threads * ni.Sockets * ni.Nodes
	}
	if m := root.Child("memory"); m != nil {
		v, err := strconv.ParseUint(m.Text(), 10, 64)
		if err != nil {
			return virerr.New(virerr.FromTest, virerr.ErrXMLError, "invalid node memory value")
		}
		ni.Memory = v
	}
	return nil
}

// loadNode fills the instance from a <node> document, in libvirt's order:
// node info, domains, networks, interfaces, pools with their volumes.
func (in *instance) loadNode(data []byte, path string) error {
	root, err := conf.ParseElement(data, virerr.FromXML)
	if err != nil {
		return err
	}
	if root.Name() != "node" {
		return virerr.New(virerr.FromXML, virerr.ErrXMLError, "expecting root element of 'node', not '%s'", root.Name())
	}
	if err := parseNodeInfo(root, &in.node); err != nil {
		return err
	}
	for _, kind := range []string{"domain", "network", "interface", "pool", "device"} {
		for _, k := range root.Children(kind) {
			e, err := resolveFile(k, path)
			if err != nil {
				return err
			}
			if err := in.loadObject(kind, e, path); err != nil {
				return err
			}
		}
	}
	return nil
}

func (in *instance) loadObject(kind string, e *conf.Element, path string) error {
	switch kind {
	case "domain":
		return in.loadDomain(e)
	case "network":
		n, err := parseNetwork(string(e.XML()), false)
		if err != nil {
			return err
		}
		n, err = in.assignNet(n, false)
		if err != nil {
			return err
		}
		n.active = true
	case "interface":
		i, err := parseIface(string(e.XML()))
		if err != nil {
			return err
		}
		i.active = true
		in.ifaces = append(in.ifaces, i)
	case "pool":
		return in.loadPool(e, path)
	case "device":
		return in.loadNodeDevice(e.XML())
	}
	return nil
}

// testNS reads the test driver's namespaced settings of a node-file
// domain (test:runstate, test:transient, test:hasmanagedsave).
type testNS struct {
	runstate  driver.State
	transient bool
	managed   bool
}

// testNSURI is the namespace of the test driver's domain extensions.
const testNSURI = "http://libvirt.org/schemas/domain/test/1.0"

// readTestNS reads the extensions and returns the domain without them
// (and without their namespace declaration): libvirt's test driver parses
// them but does not write them back either.
func readTestNS(e *conf.Element) (*conf.Element, testNS, error) {
	ns := testNS{runstate: driver.StateRunning}
	rest, ext := e.TakeNamespace(testNSURI)
	for _, k := range ext {
		switch k.Name() {
		case "transient":
			ns.transient = true
		case "hasmanagedsave":
			ns.managed = true
		case "runstate":
			v, err := strconv.ParseUint(k.Text(), 10, 32)
			if err != nil {
				return nil, ns, virerr.New(virerr.FromTest, virerr.ErrXMLError, "invalid runstate")
			}
			if v > uint64(driver.StatePMSuspended) {
				return nil, ns, virerr.New(virerr.FromTest, virerr.ErrXMLError, "runstate '%d' out of range'", v)
			}
			ns.runstate = driver.State(v)
		}
	}
	if ns.transient && ns.runstate == driver.StateShutoff {
		return nil, ns, virerr.New(virerr.FromTest, virerr.ErrXMLError, "transient domain cannot have runstate 'shutoff'")
	}
	if ns.managed && ns.runstate != driver.StateShutoff {
		return nil, ns, virerr.New(virerr.FromTest, virerr.ErrXMLError, "domain with managedsave data can only have runstate 'shutoff'")
	}
	return rest, ns, nil
}

// loadDomain is testParseDomains for one domain: it starts unless its
// runstate says shutoff, and then takes that state with reason 0.
func (in *instance) loadDomain(e *conf.Element) error {
	e, ns, err := readTestNS(e)
	if err != nil {
		return err
	}
	def, err := parseDomain(string(e.XML()), false)
	if err != nil {
		return err
	}
	o, _, err := in.addDef(def, false)
	if err != nil {
		return err
	}
	o.persistent = !ns.transient
	o.managed = ns.managed
	o.initIOThreadPolls()
	if ns.runstate != driver.StateShutoff {
		in.start(o, driver.RunningBooted)
	}
	o.state, o.reason = ns.runstate, 0
	return nil
}

func (in *instance) loadPool(e *conf.Element, path string) error {
	// The pool's <volume> children are the node file's, not the pool's.
	p, err := parsePool(string(e.Without("volume").XML()), false)
	if err != nil {
		return err
	}
	if p, err = in.addPool(p, false); err != nil {
		return err
	}
	p.persistent, p.active = true, true
	for _, k := range e.Children("volume") {
		ve, err := resolveFile(k, path)
		if err != nil {
			return err
		}
		v, err := parseVolume(p, string(ve.XML()), false)
		if err != nil {
			return err
		}
		// Node files may give a volume its own path and key.
		path, key := v.path, v.key
		if p.vols[v.name] != nil {
			return errTest(virerr.ErrOperationFailed, "storage vol already exists")
		}
		if path == "" {
			path = p.targetPath() + "/" + v.name
		}
		if key == "" {
			key = path
		}
		v.path, v.key = path, key
		p.vols[v.name] = v
		p.allocation += v.allocation
	}
	return nil
}

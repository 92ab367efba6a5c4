package remote

import (
	"encoding/xml"
	"reflect"
	"strings"
	"sync"

	"govirt/access"
	"govirt/driver"
	"govirt/rpc"
	"govirt/rpc/procs"
	"govirt/rpc/xdr"
	"govirt/uuid"
)

// Access control, as libvirt's generated virXXXEnsureACL and
// virXXXCheckACL functions apply it: every procedure's @acl annotations
// (procs.Info.ACL) are checked on the object it acts on before it runs,
// lookups are checked on the object they found, and the list calls and
// events keep only what the client may see (@aclfilter). libvirt makes
// these checks inside each driver after finding the object; here they are
// made once for every procedure from the generated table, finding the
// object the same way the driver will (by UUID for domains, networks,
// pools and secrets), so a client never gets to name an object it may
// not use. An object that cannot be found is left to the procedure,
// which reports it missing, as libvirt does before its check.

// SetAccess installs the access manager; nil allows everything.
func (s *Server) SetAccess(m *access.Manager) { s.access = m }

// aclPlan is how one procedure's checks find their object.
type aclPlan struct {
	checks []access.Check
	filter []access.Check
	kind   string
	where  aclWhere
}

type aclWhere int

const (
	aclNone      aclWhere = iota // no check ("none")
	aclConnect                   // the connection itself
	aclArgObject                 // an object named in the arguments
	aclArgXML                    // the object an XML document in the arguments defines
	aclRetObject                 // the object a lookup returns (checked after it)
	aclAnonymous                 // an object govirt cannot name before the call (restore from a file)
)

var (
	planMu sync.Mutex
	plans  = map[[2]int64]*aclPlan{}
)

// planFor classifies a procedure once.
func planFor(prog uint32, proc int32) *aclPlan {
	key := [2]int64{int64(prog), int64(proc)}
	planMu.Lock()
	defer planMu.Unlock()
	if p, ok := plans[key]; ok {
		return p
	}
	p := makePlan(prog, proc)
	plans[key] = p
	return p
}

func makePlan(prog uint32, proc int32) *aclPlan {
	p := &aclPlan{}
	info := procs.Lookup(prog, proc)
	if info == nil {
		return p
	}
	for _, s := range info.ACL {
		c, err := access.ParseCheck(s)
		if err != nil || c.None {
			continue
		}
		p.checks = append(p.checks, c)
		p.kind = c.Kind
	}
	for _, s := range info.ACLFilter {
		if c, err := access.ParseCheck(s); err == nil {
			p.filter = append(p.filter, c)
		}
	}
	switch {
	case len(p.checks) == 0:
		p.where = aclNone
	case p.kind == access.KindConnect:
		p.where = aclConnect
	default:
		a := newArgs(prog, proc)
		_, hasObj := findObjectType(reflect.TypeOf(a), p.kind)
		hasXML := xmlField(reflect.TypeOf(a)) != ""
		switch {
		case hasXML && (p.kind == access.KindStorageVol || p.kind == access.KindNetworkPort):
			// A new volume or port: the XML names it, the pool or
			// network in the arguments is its parent.
			p.where = aclArgXML
		case hasObj:
			p.where = aclArgObject
		case hasXML:
			p.where = aclArgXML
		case readOnlyChecks(p.checks) && info.Ret != "":
			p.where = aclRetObject
		default:
			p.where = aclAnonymous
		}
	}
	return p
}

// readOnlyChecks reports whether the checks only guard reading, so that
// checking them on a lookup's result after it ran changes nothing.
func readOnlyChecks(cs []access.Check) bool {
	for _, c := range cs {
		if c.Perm != "getattr" && c.Perm != "read" {
			return false
		}
	}
	return true
}

// objectTypes are the wire types naming an object of each kind.
var objectTypes = map[reflect.Type]string{
	reflect.TypeOf(NonnullDomain{}):          access.KindDomain,
	reflect.TypeOf(NonnullNetwork{}):         access.KindNetwork,
	reflect.TypeOf(NonnullNetworkPort{}):     access.KindNetworkPort,
	reflect.TypeOf(NonnullStoragePool{}):     access.KindStoragePool,
	reflect.TypeOf(NonnullStorageVol{}):      access.KindStorageVol,
	reflect.TypeOf(NonnullNodeDevice{}):      access.KindNodeDevice,
	reflect.TypeOf(NonnullInterface{}):       access.KindInterface,
	reflect.TypeOf(NonnullSecret{}):          access.KindSecret,
	reflect.TypeOf(NonnullNwfilter{}):        access.KindNWFilter,
	reflect.TypeOf(NonnullNwfilterBinding{}): access.KindNWFilterBinding,
	// Snapshots and checkpoints are checked on their domain.
	reflect.TypeOf(NonnullDomainSnapshot{}):   access.KindDomain,
	reflect.TypeOf(NonnullDomainCheckpoint{}): access.KindDomain,
}

// findObjectType finds the index of t's first field naming an object of
// kind.
func findObjectType(t reflect.Type, kind string) (int, bool) {
	if t == nil {
		return 0, false
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return 0, false
	}
	for i := 0; i < t.NumField(); i++ {
		if objectTypes[t.Field(i).Type] == kind {
			return i, true
		}
	}
	// The node device calls name their device with a bare string.
	if kind == access.KindNodeDevice {
		if f, ok := t.FieldByName("Name"); ok && f.Type.Kind() == reflect.String && len(f.Index) == 1 {
			return f.Index[0], true
		}
	}
	return 0, false
}

// xmlField is the name of t's XML document argument, if any.
func xmlField(t reflect.Type) string {
	if t == nil {
		return ""
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return ""
	}
	for _, n := range []string{"XML", "XMLDesc", "DomXML"} {
		if f, ok := t.FieldByName(n); ok && f.Type.Kind() == reflect.String {
			return n
		}
	}
	return ""
}

// wireObject turns a wire object value into the checked object's
// attributes, as the client named it.
func wireObject(v any) access.Object {
	switch o := v.(type) {
	case string: // a node device's name
		return access.Object{Kind: access.KindNodeDevice, Name: o}
	case NonnullDomain:
		return access.Object{Kind: access.KindDomain, Name: o.Name, UUID: uuid.UUID(o.UUID).String()}
	case NonnullDomainSnapshot:
		return wireObject(o.Dom)
	case NonnullDomainCheckpoint:
		return wireObject(o.Dom)
	case NonnullNetwork:
		return access.Object{Kind: access.KindNetwork, Name: o.Name, UUID: uuid.UUID(o.UUID).String()}
	case NonnullNetworkPort:
		return access.Object{Kind: access.KindNetworkPort, Name: o.Net.Name, UUID: uuid.UUID(o.UUID).String(), Parent: o.Net.Name}
	case NonnullStoragePool:
		return access.Object{Kind: access.KindStoragePool, Name: o.Name, UUID: uuid.UUID(o.UUID).String()}
	case NonnullStorageVol:
		return access.Object{Kind: access.KindStorageVol, Name: o.Name, UUID: o.Key, Parent: o.Pool}
	case NonnullNodeDevice:
		return access.Object{Kind: access.KindNodeDevice, Name: o.Name}
	case NonnullInterface:
		return access.Object{Kind: access.KindInterface, Name: o.Name, UUID: o.MAC}
	case NonnullSecret:
		return access.Object{Kind: access.KindSecret, Name: o.UsageID, UUID: uuid.UUID(o.UUID).String()}
	case NonnullNwfilter:
		return access.Object{Kind: access.KindNWFilter, Name: o.Name, UUID: uuid.UUID(o.UUID).String()}
	case NonnullNwfilterBinding:
		return access.Object{Kind: access.KindNWFilterBinding, Name: o.Portdev, Parent: o.Filtername}
	}
	return access.Object{}
}

// resolve replaces what the client said about an object found by UUID
// with the driver's own record (a client may send any name with a UUID).
// ok is false when the object does not exist.
func (h *handler) resolve(o access.Object, raw any) (access.Object, bool) {
	c := h.conn()
	switch w := raw.(type) {
	case NonnullDomainSnapshot:
		return h.resolve(o, w.Dom)
	case NonnullDomainCheckpoint:
		return h.resolve(o, w.Dom)
	case NonnullDomain:
		if d, ok := c.(driver.Domains); ok {
			dom, err := d.LookupDomainByUUID(uuid.UUID(w.UUID))
			if err != nil {
				return o, false
			}
			o.Name = dom.Name
		}
	case NonnullNetwork:
		if d, ok := c.(driver.Networks); ok {
			n, err := d.LookupNetworkByUUID(uuid.UUID(w.UUID))
			if err != nil {
				return o, false
			}
			o.Name = n.Name
		}
	case NonnullStoragePool:
		if d, ok := c.(driver.StoragePools); ok {
			p, err := d.LookupStoragePoolByUUID(uuid.UUID(w.UUID))
			if err != nil {
				return o, false
			}
			o.Name = p.Name
		}
	case NonnullNetworkPort:
		if d, ok := c.(driver.Networks); ok {
			n, err := d.LookupNetworkByUUID(uuid.UUID(w.Net.UUID))
			if err != nil {
				return o, false
			}
			o.Name, o.Parent = n.Name, n.Name
		}
	case NonnullNwfilter:
		if d, ok := c.(driver.NWFilters); ok {
			f, err := d.LookupNWFilterByUUID(uuid.UUID(w.UUID))
			if err != nil {
				return o, false
			}
			o.Name = f.Name
		}
	case NonnullNwfilterBinding:
		if d, ok := c.(driver.NWFilters); ok {
			b, err := d.LookupNWFilterBindingByPortDev(w.Portdev)
			if err != nil {
				return o, false
			}
			o.Parent = b.Filter
		}
	case NonnullStorageVol:
		// Found by pool and name: the key is the client's word until
		// the driver confirms it names the same volume.
		o.UUID = ""
		if d, ok := c.(driver.StorageVols); ok && w.Key != "" {
			if v, err := d.LookupStorageVolByKey(w.Key); err == nil && v.Pool == w.Pool && v.Name == w.Name {
				o.UUID = v.Key
			}
		}
	case NonnullInterface:
		// Found by name: the MAC address comes from the driver.
		o.UUID = ""
		if d, ok := c.(driver.Interfaces); ok {
			if i, err := d.LookupInterfaceByName(w.Name); err == nil {
				o.UUID = i.MAC
			}
		}
	case NonnullSecret:
		if d, ok := c.(driver.Secrets); ok {
			s, err := d.LookupSecretByUUID(uuid.UUID(w.UUID))
			if err != nil {
				return o, false
			}
			o.Name = s.UsageID
		}
	}
	return o, true
}

// driverName is conn->driver->name, which libvirt's denial names.
func driverName(c driver.Conn) string {
	if c == nil {
		return ""
	}
	switch t := c.Type(); t {
	case "TEST":
		return "Test"
	default:
		return t
	}
}

// identity is who the access checks see: the connection's identity, or
// the one CONNECT_SET_IDENTITY set.
func (h *handler) identity() rpc.Identity {
	h.mu.Lock()
	set := h.setIdent
	h.mu.Unlock()
	if set != nil {
		return *set
	}
	if h.rc == nil {
		return rpc.Identity{}
	}
	return h.rc.Identity()
}

// ensure runs the checks that apply to these flags on obj.
func (h *handler) ensure(checks []access.Check, obj access.Object, flags, param uint32) error {
	id := h.identity()
	for _, c := range checks {
		if !c.Applies(flags, param) {
			continue
		}
		if err := h.acl().Ensure(&id, obj, c.Perm); err != nil {
			return err
		}
	}
	return nil
}

// aclBefore checks a call before it runs. Calls on a connection not yet
// open, and CONNECT_OPEN itself, are left to aclAfter and the procedure.
func (h *handler) aclBefore(prog uint32, proc int32, body []byte) error {
	c := h.conn()
	if c == nil {
		return nil
	}
	p := planFor(prog, proc)
	if p.where == aclNone || p.where == aclRetObject {
		return nil
	}
	// libvirt's library refuses a read-only caller before the daemon's
	// access check.
	if err := h.readOnlyDenied(prog, proc, body); err != nil {
		return err
	}
	obj := access.Object{Kind: p.kind, Driver: driverName(c)}
	var flags, param uint32
	if p.where != aclConnect && p.where != aclAnonymous || needsFlags(p.checks) {
		a := newArgs(prog, proc)
		if a == nil {
			return nil
		}
		if err := xdr.Unmarshal(body, a); err != nil {
			return nil // the procedure reports it
		}
		v := reflect.ValueOf(a).Elem()
		flags, param = argFlags(v, p.checks)
		switch p.where {
		case aclArgObject:
			i, _ := findObjectType(v.Type(), p.kind)
			raw := v.Field(i).Interface()
			o := wireObject(raw)
			o, ok := h.resolve(o, raw)
			if !ok {
				return nil // missing: the procedure says so
			}
			o.Driver = obj.Driver
			obj = o
		case aclArgXML:
			obj = xmlObject(p.kind, v, obj.Driver)
		}
	}
	return h.ensure(p.checks, obj, flags, param)
}

func needsFlags(cs []access.Check) bool {
	for _, c := range cs {
		if c.HasFlags || c.Param != "" {
			return true
		}
	}
	return false
}

// argFlags reads the arguments' flags and the parameter a check names.
func argFlags(v reflect.Value, cs []access.Check) (flags, param uint32) {
	if f := v.FieldByName("Flags"); f.IsValid() && f.CanUint() {
		flags = uint32(f.Uint())
	}
	for _, c := range cs {
		if c.Param == "" {
			continue
		}
		if f := v.FieldByName(c.Param); f.IsValid() {
			if f.CanUint() {
				param = uint32(f.Uint())
			} else if f.CanInt() {
				param = uint32(f.Int())
			}
		}
	}
	return flags, param
}

// xmlHead is what identifies the object an XML document defines: the
// <name> and <uuid> children of domains, networks, pools, volumes, node
// devices and network ports, the name attribute of interfaces and
// filters, a secret's usage, a filter binding's port device.
type xmlHead struct {
	NameAttr string `xml:"name,attr"`
	Name     string `xml:"name"`
	UUID     string `xml:"uuid"`
	Usage    struct {
		Volume string `xml:"volume"`
		Name   string `xml:"name"`
		Target string `xml:"target"`
	} `xml:"usage"`
	Portdev struct {
		Name string `xml:"name,attr"`
	} `xml:"portdev"`
	Filterref struct {
		Filter string `xml:"filter,attr"`
	} `xml:"filterref"`
}

// xmlObject is the object the call's XML defines. A document that does
// not parse is checked as an unnamed object (the procedure then refuses
// the document itself, unless the check refuses first).
func xmlObject(kind string, v reflect.Value, drv string) access.Object {
	o := access.Object{Kind: kind, Driver: drv}
	var head xmlHead
	_ = xml.Unmarshal([]byte(v.FieldByName(xmlField(v.Type())).String()), &head)
	o.Name, o.UUID = strings.TrimSpace(head.Name), strings.ToLower(strings.TrimSpace(head.UUID))
	switch kind {
	case access.KindInterface, access.KindNWFilter:
		o.Name = head.NameAttr
	case access.KindSecret:
		o.Name = head.Usage.Volume + head.Usage.Name + head.Usage.Target
	case access.KindNWFilterBinding:
		o.Name, o.Parent = head.Portdev.Name, head.Filterref.Filter
	case access.KindStorageVol:
		if p, ok := fieldValue(v, "Pool").(NonnullStoragePool); ok {
			o.Parent = p.Name
		}
	case access.KindNetworkPort:
		if n, ok := fieldValue(v, "Network").(NonnullNetwork); ok {
			o.Parent, o.Name = n.Name, n.Name
		}
	}
	return o
}

// fieldValue is v's field name, or nil.
func fieldValue(v reflect.Value, name string) any {
	if f := v.FieldByName(name); f.IsValid() && f.CanInterface() {
		return f.Interface()
	}
	return nil
}

// acl is the server's access manager (nil: everything allowed, also for
// handlers made without a server, as in tests).
func (h *handler) acl() *access.Manager {
	if h.srv == nil {
		return nil
	}
	return h.srv.access
}

// implemented reports whether govirt serves the procedure at all: one it
// lacks gets libvirt's "not supported" error, which libvirt's library
// raises before any driver (and so any access check) is reached.
func (h *handler) implemented(prog uint32, proc int32) bool {
	switch prog {
	case ProgQEMU:
		return qemuTable[proc] != nil
	case ProgRemote:
		if _, ok := table[proc]; ok {
			return true
		}
		_, a := openStreamProcs[proc]
		_, b := streamProcs[proc]
		_, c := fdProcs[proc]
		_, d := fdInProcs[proc]
		return a || b || c || d
	}
	return false
}

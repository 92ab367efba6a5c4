package remote

import (
	"reflect"

	"govirt/access"
	"govirt/driver"
	"govirt/rpc/procs"
	"govirt/rpc/xdr"
)

// aclAfter finishes a call's access control once it has run: CONNECT_OPEN
// checks connect:getattr on the driver it opened (and closes it again when
// refused), a lookup checks the object it found, and the list calls keep
// only the objects their filter permission allows (libvirt's
// virXXXCheckACL, which drops what the client may not see without an
// error).
func (h *handler) aclAfter(proc int32, body []byte, ret any) (any, error) {
	p := planFor(ProgRemote, proc)
	c := h.conn()
	if c == nil {
		return ret, nil
	}
	drv := driverName(c)
	switch {
	case proc == procs.ConnectOpen:
		if err := h.ensure(p.checks, access.Object{Kind: access.KindConnect, Driver: drv}, 0, 0); err != nil {
			h.close()
			return nil, err
		}
		return ret, nil
	case p.where == aclRetObject:
		v := reflect.ValueOf(ret)
		i, ok := findObjectType(v.Type(), p.kind)
		obj := access.Object{Kind: p.kind}
		if ok {
			obj = wireObject(v.Field(i).Interface())
		}
		obj.Driver = drv
		if err := h.ensure(p.checks, obj, 0, 0); err != nil {
			return nil, err
		}
		return ret, nil
	}
	if len(p.filter) == 0 || ret == nil {
		return ret, nil
	}
	if list, ok := numOfList[proc]; ok {
		return h.filteredCount(proc, list, body, ret, p)
	}
	return h.filterList(proc, body, ret, p)
}

// visible reports whether the filter checks allow the client to see obj.
func (h *handler) visible(p *aclPlan, obj access.Object) bool {
	obj.Driver = driverName(h.conn())
	id := h.identity()
	for _, c := range p.filter {
		obj.Kind = c.Kind
		if !h.acl().Allowed(&id, obj, c.Perm) {
			return false
		}
	}
	return true
}

// filterList drops the objects the client may not see from a list reply.
func (h *handler) filterList(proc int32, body []byte, ret any, p *aclPlan) (any, error) {
	if r, ok := ret.(domainListRet); ok { // list_domains.go's fast reply
		return h.filterDomainList(proc, body, r, p)
	}
	rv := reflect.ValueOf(ret)
	if rv.Kind() != reflect.Struct {
		return ret, nil
	}
	// virConnectListAll* with need_results 0 returns only a count: list
	// them to count the visible ones.
	needResults := true
	if a := newArgs(ProgRemote, proc); a != nil {
		if err := xdr.Unmarshal(body, a); err == nil {
			av := reflect.ValueOf(a).Elem()
			if f := av.FieldByName("NeedResults"); f.IsValid() && f.Int() == 0 {
				needResults = false
				f.SetInt(1)
				b, err := xdr.Marshal(a)
				if err != nil {
					return nil, err
				}
				r, err := table[proc].fn(h, b)
				if err != nil {
					return nil, err
				}
				rv = reflect.ValueOf(r)
			}
		}
	}
	out := reflect.New(rv.Type()).Elem()
	out.Set(rv)
	kept := -1
	for i := 0; i < out.NumField(); i++ {
		f := out.Field(i)
		if f.Kind() != reflect.Slice || !f.CanSet() {
			continue
		}
		name := out.Type().Field(i).Name
		// Elements that name no object of the filter's kind are dropped:
		// better an empty list than a leak.
		keep := reflect.MakeSlice(f.Type(), 0, f.Len())
		for j := 0; j < f.Len(); j++ {
			if obj, ok := h.listedObject(name, f.Index(j), p); ok && h.visible(p, obj) {
				keep = reflect.Append(keep, f.Index(j))
			}
		}
		kept = keep.Len()
		if !needResults {
			keep = reflect.MakeSlice(f.Type(), 0, 0)
		}
		f.Set(keep)
	}
	if r := out.FieldByName("Ret"); r.IsValid() && kept >= 0 && r.CanUint() {
		r.SetUint(uint64(kept))
	}
	return out.Interface(), nil
}

// listedObject is the object one element of a list reply stands for:
// a wire object, a record holding one (domain stats), a name, a UUID
// string (secrets) or a domain id. Names and ids of domains, networks and
// pools are looked up so rules on UUIDs apply to them too.
func (h *handler) listedObject(field string, e reflect.Value, p *aclPlan) (access.Object, bool) {
	kind := p.filter[0].Kind
	if k, ok := objectTypes[e.Type()]; ok && k == kind {
		return wireObject(e.Interface()), true
	}
	if i, ok := findObjectType(e.Type(), kind); ok {
		return wireObject(e.Field(i).Interface()), true
	}
	c := h.conn()
	switch {
	case e.Kind() == reflect.Int32 && field == "Ids" && kind == access.KindDomain:
		o := access.Object{Kind: kind}
		if d, ok := c.(driver.Domains); ok {
			if dom, err := d.LookupDomainByID(int32(e.Int())); err == nil {
				o.Name, o.UUID = dom.Name, dom.UUID.String()
			}
		}
		return o, true
	case e.Kind() == reflect.String && field == "Uuids":
		return access.Object{Kind: kind, UUID: e.String()}, true
	case e.Kind() == reflect.String && field == "Names":
		o := access.Object{Kind: kind, Name: e.String()}
		switch kind {
		case access.KindDomain:
			if d, ok := c.(driver.Domains); ok {
				if dom, err := d.LookupDomainByName(o.Name); err == nil {
					o.UUID = dom.UUID.String()
				}
			}
		case access.KindNetwork:
			if d, ok := c.(driver.Networks); ok {
				if n, err := d.LookupNetworkByName(o.Name); err == nil {
					o.UUID = n.UUID.String()
				}
			}
		case access.KindStoragePool:
			if d, ok := c.(driver.StoragePools); ok {
				if n, err := d.LookupStoragePoolByName(o.Name); err == nil {
					o.UUID = n.UUID.String()
				}
			}
		}
		return o, true
	}
	return access.Object{}, false
}

// numOfList maps each virConnectNumOf* procedure to the list procedure
// whose filtered length it reports.
var numOfList = map[int32]int32{
	procs.ConnectNumOfDomains:             procs.ConnectListDomains,
	procs.ConnectNumOfDefinedDomains:      procs.ConnectListDefinedDomains,
	procs.ConnectNumOfNetworks:            procs.ConnectListNetworks,
	procs.ConnectNumOfDefinedNetworks:     procs.ConnectListDefinedNetworks,
	procs.ConnectNumOfStoragePools:        procs.ConnectListStoragePools,
	procs.ConnectNumOfDefinedStoragePools: procs.ConnectListDefinedStoragePools,
	procs.StoragePoolNumOfVolumes:         procs.StoragePoolListVolumes,
	procs.NodeNumOfDevices:                procs.NodeListDevices,
	procs.ConnectNumOfInterfaces:          procs.ConnectListInterfaces,
	procs.ConnectNumOfDefinedInterfaces:   procs.ConnectListDefinedInterfaces,
	procs.ConnectNumOfSecrets:             procs.ConnectListSecrets,
	procs.ConnectNumOfNwfilters:           procs.ConnectListNwfilters,
}

// filteredCount answers a NumOf call with the length of its list call's
// filtered reply.
func (h *handler) filteredCount(proc, list int32, body []byte, ret any, p *aclPlan) (any, error) {
	e, ok := table[list]
	if !ok {
		return ret, nil
	}
	la := newArgs(ProgRemote, list)
	lv := reflect.ValueOf(la).Elem()
	if a := newArgs(ProgRemote, proc); a != nil {
		if err := xdr.Unmarshal(body, a); err != nil {
			return nil, errDecode
		}
		av := reflect.ValueOf(a).Elem()
		for i := 0; i < av.NumField(); i++ {
			if f := lv.FieldByName(av.Type().Field(i).Name); f.IsValid() && f.Type() == av.Field(i).Type() {
				f.Set(av.Field(i))
			}
		}
	}
	for _, n := range []string{"Maxnames", "Maxids"} {
		if f := lv.FieldByName(n); f.IsValid() {
			f.SetInt(RemoteDomainListMax)
		}
	}
	b, err := xdr.Marshal(la)
	if err != nil {
		return nil, err
	}
	r, err := e.fn(h, b)
	if err != nil {
		return nil, err
	}
	fr, err := h.filterList(list, b, r, planFor(ProgRemote, list))
	if err != nil {
		return nil, err
	}
	n := 0
	fv := reflect.ValueOf(fr)
	for i := 0; i < fv.NumField(); i++ {
		if fv.Field(i).Kind() == reflect.Slice {
			n = fv.Field(i).Len()
		}
	}
	if _, ok := ret.(intRet); ok {
		return intRet{int32(n)}, nil
	}
	out := reflect.New(reflect.TypeOf(ret)).Elem()
	out.Set(reflect.ValueOf(ret))
	if f := out.FieldByName("Num"); f.IsValid() {
		f.SetInt(int64(n))
	}
	return out.Interface(), nil
}

// filterDomainList filters CONNECT_LIST_ALL_DOMAINS' reply, listing the
// domains to count them when the client asked only for the count.
func (h *handler) filterDomainList(proc int32, body []byte, r domainListRet, p *aclPlan) (any, error) {
	a, err := args[ConnectListAllDomainsArgs](body)
	if err != nil {
		return nil, err
	}
	countOnly := a.NeedResults == 0
	if countOnly {
		a.NeedResults = 1
		b, err := xdr.Marshal(&a)
		if err != nil {
			return nil, err
		}
		full, err := table[proc].fn(h, b)
		if err != nil {
			return nil, err
		}
		if fr, ok := full.(domainListRet); ok {
			r = fr
		}
	}
	keep := make([]driver.Domain, 0, len(r.doms))
	for _, d := range r.doms {
		if h.visible(p, wireObject(wireDom(d))) {
			keep = append(keep, d)
		}
	}
	out := domainListRet{ret: uint32(len(keep))}
	if !countOnly {
		out.doms = keep
	}
	return out, nil
}

// eventVisible is libvirt's per-client event filter: a client gets an
// object's events only if it may get its attributes (the getattr
// permission of the registration's @aclfilter).
func (h *handler) eventVisible(ev any) bool {
	if !h.acl().Enabled() {
		return true
	}
	var obj access.Object
	switch e := ev.(type) {
	case driver.DomainEvent:
		obj = wireObject(wireDom(e.Dom))
	case driver.QemuMonitorEvent:
		obj = wireObject(wireDom(e.Dom))
	case driver.NetworkEvent:
		obj = wireObject(wireNet(e.Net))
	case driver.PoolEvent:
		obj = wireObject(wirePool(e.Pool))
	case driver.NodeDeviceEvent:
		obj = wireObject(wireNodeDev(e.Name))
	case driver.SecretEvent:
		obj = wireObject(wireSecret(e.Secret))
	default:
		return false
	}
	obj.Driver = driverName(h.conn())
	id := h.identity()
	return h.acl().Allowed(&id, obj, "getattr")
}

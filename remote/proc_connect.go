package remote

import (
	"govirt/rpc/procs"
	"os"
	"runtime"

	"govirt/driver"
	"govirt/virerr"
)

// libvirt's VIR_DRV_FEATURE_* numbers.
const (
	featureRemote              = 2
	featureFDPassing           = 8
	featureTypedParamString    = 9
	featureProgramKeepalive    = 10
	featureRemoteEventCallback = 14
	featureRemoteCloseCallback = 15
)

const connectRO = 1 // VIR_CONNECT_RO

func init() {
	register(false, map[int32]procFunc{
		procs.AuthList:               authList,
		procs.ConnectSupportsFeature: connectSupportsFeature,
		procs.ConnectOpen:            connectOpen,
		procs.ConnectClose:           connectClose,
		procs.ConnectGetLibVersion: func(h *handler, _ []byte) (any, error) {
			return ConnectGetLibVersionRet{LibVer: h.srv.LibVersion}, nil
		},
	})
	register(true, map[int32]procFunc{
		procs.ConnectGetType:                 connectGetType,
		procs.ConnectGetVersion:              connectGetVersion,
		procs.ConnectGetURI:                  func(h *handler, _ []byte) (any, error) { return ConnectGetURIRet{URI: h.conn().URI()}, nil },
		procs.ConnectGetHostname:             connectGetHostname,
		procs.ConnectGetSysinfo:              connectGetSysinfo,
		procs.ConnectGetMaxVcpus:             connectGetMaxVcpus,
		procs.ConnectGetCapabilities:         connectGetCapabilities,
		procs.NodeGetInfo:                    nodeGetInfo,
		procs.NodeGetFreeMemory:              nodeGetFreeMemory,
		procs.NodeGetCellsFreeMemory:         nodeGetCellsFreeMemory,
		procs.NodeGetCPUMap:                  nodeGetCPUMap,
		procs.ConnectGetDomainCapabilities:   connectGetDomainCapabilities,
		procs.ConnectRegisterCloseCallback:   func(*handler, []byte) (any, error) { return nil, nil }, // register close callback
		procs.ConnectUnregisterCloseCallback: func(*handler, []byte) (any, error) { return nil, nil }, // unregister close callback
		// CONNECT_IS_SECURE: unix sockets and loopback are; TLS would be too.
		procs.ConnectIsSecure: func(*handler, []byte) (any, error) { return ConnectIsSecureRet{Secure: 1}, nil },
	})
}

// authList is the one authentication the client's listener demands
// (auth_unix_rw, auth_unix_ro, auth_tcp, auth_tls), as libvirtd's.
func authList(h *handler, _ []byte) (any, error) {
	if h.rc != nil {
		return AuthListRet{Types: []int32{h.rc.ServiceAuth()}}, nil
	}
	return AuthListRet{Types: []int32{0}}, nil // REMOTE_AUTH_NONE
}

func connectSupportsFeature(h *handler, body []byte) (any, error) {
	a, err := args[ConnectSupportsFeatureArgs](body)
	if err != nil {
		return nil, err
	}
	switch a.Feature {
	case featureProgramKeepalive:
		h.startKeepalive()
		return ConnectSupportsFeatureRet{Supported: 1}, nil
	case featureRemoteEventCallback, featureRemoteCloseCallback, featureTypedParamString, featureRemote,
		featureFDPassing: // as libvirtd: replies carry descriptors on unix sockets
		return ConnectSupportsFeatureRet{Supported: 1}, nil
	}
	if f, ok := h.conn().(driver.FeatureSupporter); ok && f.SupportsFeature(a.Feature) {
		return ConnectSupportsFeatureRet{Supported: 1}, nil
	}
	return ConnectSupportsFeatureRet{Supported: 0}, nil
}

func connectOpen(h *handler, body []byte) (any, error) {
	a, err := args[ConnectOpenArgs](body)
	if err != nil {
		return nil, err
	}
	return nil, h.open(optString(a.Name), a.Flags&connectRO != 0)
}

func connectClose(h *handler, _ []byte) (any, error) {
	h.close()
	return nil, nil
}

func connectGetType(h *handler, _ []byte) (any, error) {
	return ConnectGetTypeRet{Type: h.conn().Type()}, nil
}

func connectGetVersion(h *handler, _ []byte) (any, error) {
	v, err := h.conn().Version()
	return ConnectGetVersionRet{HvVer: v}, err
}

func connectGetHostname(h *handler, _ []byte) (any, error) {
	if d, ok := h.conn().(driver.Host); ok {
		n, err := d.Hostname()
		return ConnectGetHostnameRet{Hostname: n}, err
	}
	n, err := os.Hostname()
	if err != nil {
		return nil, virerr.New(virerr.FromNone, virerr.ErrSystemError, "%v", err)
	}
	return ConnectGetHostnameRet{Hostname: n}, nil
}

func connectGetSysinfo(h *handler, body []byte) (any, error) {
	a, err := args[ConnectGetSysinfoArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.Host](h)
	if err != nil {
		return nil, err
	}
	s, err := d.Sysinfo(a.Flags)
	return ConnectGetSysinfoRet{Sysinfo: s}, err
}

func connectGetMaxVcpus(h *handler, body []byte) (any, error) {
	a, err := args[ConnectGetMaxVcpusArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.Host](h)
	if err != nil {
		return nil, err
	}
	n, err := d.MaxVcpus(optString(a.Type))
	return ConnectGetMaxVcpusRet{MaxVcpus: n}, err
}

func connectGetCapabilities(h *handler, _ []byte) (any, error) {
	s, err := h.conn().Capabilities()
	return ConnectGetCapabilitiesRet{Capabilities: s}, err
}

func nodeGetInfo(h *handler, _ []byte) (any, error) {
	ni, err := h.conn().NodeInfo()
	if err != nil {
		return nil, err
	}
	var ret NodeGetInfoRet
	for i := 0; i < len(ni.Model) && i < len(ret.Model)-1; i++ {
		ret.Model[i] = int32(int8(ni.Model[i]))
	}
	ret.Memory = ni.Memory
	ret.Cpus, ret.Mhz, ret.Nodes = ni.CPUs, ni.MHz, ni.Nodes
	ret.Sockets, ret.Cores, ret.Threads = ni.Sockets, ni.Cores, ni.Threads
	return ret, nil
}

func nodeGetFreeMemory(h *handler, _ []byte) (any, error) {
	d, err := need[driver.Host](h)
	if err != nil {
		return nil, err
	}
	m, err := d.NodeFreeMemory()
	if err == nil && m == 0 {
		// virNodeGetFreeMemory treats 0 as a failure the driver did not
		// explain (the test driver's node files without cells).
		err = virerr.Raw(virerr.FromNone, virerr.ErrInternalError, "An error occurred, but the cause is unknown")
	}
	return NodeGetFreeMemoryRet{FreeMem: m}, err
}

func nodeGetCellsFreeMemory(h *handler, body []byte) (any, error) {
	a, err := args[NodeGetCellsFreeMemoryArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.Host](h)
	if err != nil {
		return nil, err
	}
	cells, err := d.NodeCellsFreeMemory(a.StartCell, a.Maxcells)
	return NodeGetCellsFreeMemoryRet{Cells: cells}, err
}

func nodeGetCPUMap(h *handler, body []byte) (any, error) {
	a, err := args[NodeGetCPUMapArgs](body)
	if err != nil {
		return nil, err
	}
	var cpumap []byte
	var online uint32
	var total int32
	if d, ok := h.conn().(driver.Host); ok {
		cpumap, online, total, err = d.NodeCPUMap(a.Flags)
		if err != nil {
			return nil, err
		}
	} else {
		total = int32(runtime.NumCPU())
		online = uint32(total)
		cpumap = make([]byte, (total+7)/8)
		for i := int32(0); i < total; i++ {
			cpumap[i/8] |= 1 << (i % 8)
		}
	}
	ret := NodeGetCPUMapRet{Ret: total}
	if a.NeedMap != 0 {
		ret.Cpumap = cpumap
	}
	if a.NeedOnline != 0 {
		ret.Online = online
	}
	return ret, nil
}

func connectGetDomainCapabilities(h *handler, body []byte) (any, error) {
	a, err := args[ConnectGetDomainCapabilitiesArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.Host](h)
	if err != nil {
		return nil, err
	}
	s, err := d.DomainCapabilities(optString(a.Emulatorbin), optString(a.Arch), optString(a.Machine), optString(a.Virttype), a.Flags)
	return ConnectGetDomainCapabilitiesRet{Capabilities: s}, err
}

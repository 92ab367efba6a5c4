package admin

// Hand-written wire structs for admin_protocol.x (libvirt 9.0), until the
// generator in the tree produces them. Names are the .x names without the
// admin_ prefix, camel-cased; admin_nonnull_string is string, admin_string
// *string and admin_typed_param xdr.TypedParam; <MAX> bounds are max= tags.

import "govirt/rpc/xdr"

// Procedure numbers (enum admin_procedure).
const (
	ProcConnectOpen                   int32 = 1
	ProcConnectClose                  int32 = 2
	ProcConnectGetLibVersion          int32 = 3
	ProcConnectListServers            int32 = 4
	ProcConnectLookupServer           int32 = 5
	ProcServerGetThreadpoolParameters int32 = 6
	ProcServerSetThreadpoolParameters int32 = 7
	ProcServerListClients             int32 = 8
	ProcServerLookupClient            int32 = 9
	ProcClientGetInfo                 int32 = 10
	ProcClientClose                   int32 = 11
	ProcServerGetClientLimits         int32 = 12
	ProcServerSetClientLimits         int32 = 13
	ProcConnectGetLoggingOutputs      int32 = 14
	ProcConnectGetLoggingFilters      int32 = 15
	ProcConnectSetLoggingOutputs      int32 = 16
	ProcConnectSetLoggingFilters      int32 = 17
	ProcServerUpdateTlsFiles          int32 = 18
	ProcConnectSetDaemonTimeout       int32 = 19
)

// Array bounds.
const (
	ServerListMax                 = 16384
	ServerThreadpoolParametersMax = 32
	ClientListMax                 = 16384
	ClientInfoParametersMax       = 64
	ServerClientLimitsMax         = 32
)

type TypedParam = xdr.TypedParam

type NonnullServer struct {
	Name string
}

type NonnullClient struct {
	Srv       NonnullServer
	ID        uint64
	Timestamp int64
	Transport uint32
}

type ConnectOpenArgs struct {
	Flags uint32
}

type ConnectGetLibVersionRet struct {
	LibVer uint64
}

type ConnectListServersArgs struct {
	NeedResults uint32
	Flags       uint32
}

type ConnectListServersRet struct {
	Servers []NonnullServer `xdr:"max=16384"`
	Ret     uint32
}

type ConnectLookupServerArgs struct {
	Name  string
	Flags uint32
}

type ConnectLookupServerRet struct {
	Srv NonnullServer
}

type ServerGetThreadpoolParametersArgs struct {
	Srv   NonnullServer
	Flags uint32
}

type ServerGetThreadpoolParametersRet struct {
	Params []TypedParam `xdr:"max=32"`
}

type ServerSetThreadpoolParametersArgs struct {
	Srv    NonnullServer
	Params []TypedParam `xdr:"max=32"`
	Flags  uint32
}

type ServerListClientsArgs struct {
	Srv         NonnullServer
	NeedResults uint32
	Flags       uint32
}

type ServerListClientsRet struct {
	Clients []NonnullClient `xdr:"max=16384"`
	Ret     uint32
}

type ServerLookupClientArgs struct {
	Srv   NonnullServer
	ID    uint64
	Flags uint32
}

type ServerLookupClientRet struct {
	Clnt NonnullClient
}

type ClientGetInfoArgs struct {
	Clnt  NonnullClient
	Flags uint32
}

type ClientGetInfoRet struct {
	Params []TypedParam `xdr:"max=64"`
}

type ClientCloseArgs struct {
	Clnt  NonnullClient
	Flags uint32
}

type ServerGetClientLimitsArgs struct {
	Srv   NonnullServer
	Flags uint32
}

type ServerGetClientLimitsRet struct {
	Params []TypedParam `xdr:"max=32"`
}

type ServerSetClientLimitsArgs struct {
	Srv    NonnullServer
	Params []TypedParam `xdr:"max=32"`
	Flags  uint32
}

type ServerUpdateTlsFilesArgs struct {
	Srv   NonnullServer
	Flags uint32
}

type ConnectGetLoggingOutputsArgs struct {
	Flags uint32
}

type ConnectGetLoggingOutputsRet struct {
	Outputs  string
	Noutputs uint32
}

type ConnectGetLoggingFiltersArgs struct {
	Flags uint32
}

type ConnectGetLoggingFiltersRet struct {
	Filters  *string
	Nfilters uint32
}

type ConnectSetLoggingOutputsArgs struct {
	Outputs *string
	Flags   uint32
}

type ConnectSetLoggingFiltersArgs struct {
	Filters *string
	Flags   uint32
}

type ConnectSetDaemonTimeoutArgs struct {
	Timeout uint32
	Flags   uint32
}

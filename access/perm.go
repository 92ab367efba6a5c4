// Package access is libvirt's access control model for govirtd: the
// permissions of every object kind (src/access/viraccessperm.h), a
// rule-file driver standing in for libvirt's polkit driver, and the check
// libvirt's generated virXXXEnsureACL/CheckACL functions make.
package access

import "slices"

// Object kinds, as libvirt names them in the procedures' @acl annotations.
const (
	KindConnect         = "connect"
	KindDomain          = "domain"
	KindInterface       = "interface"
	KindNetwork         = "network"
	KindNetworkPort     = "network_port"
	KindNodeDevice      = "node_device"
	KindNWFilter        = "nwfilter"
	KindNWFilterBinding = "nwfilter_binding"
	KindSecret          = "secret"
	KindStoragePool     = "storage_pool"
	KindStorageVol      = "storage_vol"
)

// Perms are the permissions of each kind, in viraccessperm.c's order.
var Perms = map[string][]string{
	KindConnect: {"getattr", "read", "write",
		"search_domains", "search_networks",
		"search_storage_pools", "search_node_devices",
		"search_interfaces", "search_secrets",
		"search_nwfilters", "search_nwfilter_bindings",
		"detect_storage_pools", "pm_control",
		"interface_transaction"},
	KindDomain: {"getattr", "read", "write", "read_secure",
		"start", "stop", "reset",
		"save", "delete",
		"migrate", "checkpoint", "snapshot", "suspend", "hibernate",
		"core_dump", "pm_control",
		"init_control", "inject_nmi", "send_input", "send_signal",
		"fs_trim", "fs_freeze",
		"block_read", "block_write", "mem_read",
		"open_graphics", "open_device", "screenshot",
		"open_namespace", "set_time", "set_password"},
	KindInterface:       {"getattr", "read", "write", "save", "delete", "start", "stop"},
	KindNetwork:         {"getattr", "read", "write", "save", "delete", "start", "stop", "search_ports"},
	KindNetworkPort:     {"getattr", "read", "write", "create", "delete"},
	KindNodeDevice:      {"getattr", "read", "write", "start", "stop", "detach", "delete"},
	KindNWFilter:        {"getattr", "read", "write", "save", "delete"},
	KindNWFilterBinding: {"getattr", "read", "create", "delete"},
	KindSecret:          {"getattr", "read", "write", "read_secure", "save", "delete"},
	KindStoragePool: {"getattr", "read", "write", "save", "delete", "start", "stop",
		"refresh", "search_storage_vols", "format"},
	KindStorageVol: {"getattr", "read", "create", "delete", "format", "resize",
		"data_read", "data_write"},
}

// ValidPerm reports whether perm is one of kind's permissions.
func ValidPerm(kind, perm string) bool {
	return slices.Contains(Perms[kind], perm)
}

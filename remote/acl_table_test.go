package remote

import (
	"sort"
	"testing"

	"govirt/access"
	"govirt/rpc/procs"
	"govirt/rpc/xdr"
)

// anonymousACL are the procedures whose object govirt cannot name before
// they run (it is inside a file on the host): their checks are made on an
// unnamed object, so only rules that do not name one allow them.
var anonymousACL = map[string]bool{
	"REMOTE_PROC_DOMAIN_RESTORE":                        true,
	"REMOTE_PROC_DOMAIN_RESTORE_FLAGS":                  true,
	"REMOTE_PROC_DOMAIN_RESTORE_PARAMS":                 true,
	"REMOTE_PROC_DOMAIN_SAVE_IMAGE_GET_XML_DESC":        true,
	"REMOTE_PROC_DOMAIN_SAVE_IMAGE_DEFINE_XML":          true,
	"REMOTE_PROC_DOMAIN_MIGRATE_PREPARE3_PARAMS":        true, // the XML is in a typed parameter
	"REMOTE_PROC_DOMAIN_MIGRATE_PREPARE_TUNNEL3_PARAMS": true,
	"REMOTE_PROC_DOMAIN_MIGRATE_PREPARE":                true, // version 1 sends no XML
	"REMOTE_PROC_DOMAIN_MIGRATE_FINISH":                 true, // the domain comes from the cookie
	"REMOTE_PROC_DOMAIN_MIGRATE_FINISH2":                true,
	"REMOTE_PROC_DOMAIN_MIGRATE_FINISH3":                true,
	"REMOTE_PROC_DOMAIN_MIGRATE_FINISH3_PARAMS":         true,
	"QEMU_PROC_DOMAIN_ATTACH":                           true, // a process id
}

// TestEveryProcedureHasItsCheck: every procedure of libvirt's REMOTE and
// QEMU programs has @acl annotations that parse, and the dispatcher knows
// where each check's object comes from.
func TestEveryProcedureHasItsCheck(t *testing.T) {
	where := map[aclWhere][]string{}
	for _, prog := range []uint32{ProgRemote, ProgQEMU} {
		for proc := int32(1); proc < 1000; proc++ {
			info := procs.Lookup(prog, proc)
			if info == nil || info.Msg != "" {
				continue
			}
			if len(info.ACL) == 0 {
				t.Errorf("%s: no @acl", info.Name)
				continue
			}
			for _, s := range append(append([]string{}, info.ACL...), info.ACLFilter...) {
				c, err := access.ParseCheck(s)
				if err != nil {
					t.Errorf("%s: %v", info.Name, err)
				}
				if !c.None && c.Param != "" {
					if a := newArgs(prog, proc); a == nil {
						t.Errorf("%s: checks argument %s but has none", info.Name, c.Param)
					}
				}
			}
			p := planFor(prog, proc)
			where[p.where] = append(where[p.where], info.Name)
			if p.where == aclAnonymous && !anonymousACL[info.Name] {
				t.Errorf("%s: no object for %v", info.Name, info.ACL)
			}
		}
	}
	for w, names := range where {
		sort.Strings(names)
		t.Logf("%d: %d procedures %v", w, len(names), names)
	}
}

// TestACLNeverPanics runs every procedure's checks on empty, zero and
// garbage arguments with a deny-all rule file: each gets an answer (nil
// or an error), none panics.
func TestACLNeverPanics(t *testing.T) {
	h, _ := aclHandler(t)
	for _, prog := range []uint32{ProgRemote, ProgQEMU, procs.ProgramLxc} {
		for proc := int32(0); proc < 600; proc++ {
			bodies := [][]byte{nil, {1, 2, 3}, make([]byte, 64)}
			if a := newArgs(prog, proc); a != nil {
				b, _ := xdr.Marshal(a)
				bodies = append(bodies, b)
			}
			for _, b := range bodies {
				_ = h.aclBefore(prog, proc, b)
				if prog == ProgRemote && proc != procs.ConnectClose && proc != procs.ConnectOpen {
					_, _, _ = h.dispatch(proc, b)
				}
			}
		}
	}
}

package cgroup

import (
	"runtime"
	"syscall"
	"unsafe"
)

// The bpf(2) calls a v2 device list needs, made directly (the standard
// library has the syscall number; the attribute layouts are the
// kernel's union bpf_attr, little-endian x86_64 and arm64 alike).

const (
	bpfMapCreate      = 0
	bpfMapLookupElem  = 1
	bpfMapUpdateElem  = 2
	bpfMapDeleteElem  = 3
	bpfMapGetNextKey  = 4
	bpfProgLoad       = 5
	bpfProgAttach     = 8
	bpfProgGetFDByID  = 13
	bpfMapGetFDByID   = 14
	bpfObjGetInfoByFD = 15
	bpfProgQuery      = 16

	bpfMapTypeHash          = 1
	bpfProgTypeCgroupDevice = 15
	bpfCgroupDevice         = 6 // attach type

	// bpf_cgroup_dev_ctx.access_type: access << 16 | type.
	bpfDevBlock   = 1
	bpfDevChar    = 2
	bpfAccMknod   = 1
	bpfAccRead    = 2
	bpfAccWrite   = 4
	bpfPseudoMap  = 1 // src_reg of a ld_imm64 loading a map fd
	bpfAnyElement = 0 // BPF_ANY
)

// The buffers an attribute points to are allocated by these (never
// inlined, so what they return lives on the heap): a goroutine's stack
// may move while a call is made, and the addresses inside an attribute
// are plain integers the runtime would not update.
//
//go:noinline
func heapU64(v uint64) *uint64 { p := new(uint64); *p = v; return p }

//go:noinline
func heapU32(v uint32) *uint32 { p := new(uint32); *p = v; return p }

//go:noinline
func heapBytes(n int) []byte { return make([]byte, n) }

//go:noinline
func heapU32s(n int) []uint32 { return make([]uint32, n) }

var bpfLicense = []byte("GPL\x00")

func ptr[T any](p *T) uint64 { return uint64(uintptr(unsafe.Pointer(p))) }

func bpfCall(cmd int, attr unsafe.Pointer, size uintptr) (int, error) {
	if sysBPF < 0 {
		return -1, syscall.ENOSYS
	}
	r, _, e := syscall.Syscall(uintptr(sysBPFNum), uintptr(cmd), uintptr(attr), size)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func bpfMapCreateHash(keySize, valueSize, max uint32) (int, error) {
	attr := struct{ mapType, keySize, valueSize, maxEntries, flags uint32 }{bpfMapTypeHash, keySize, valueSize, max, 0}
	return bpfCall(bpfMapCreate, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
}

// mapElemAttr is the map element commands' attribute.
type mapElemAttr struct {
	mapFD uint32
	_     uint32
	key   uint64
	value uint64 // or next_key
	flags uint64
}

func bpfLookup(fd int, key uint64) (uint32, bool) {
	k, v := heapU64(key), heapU32(0)
	a := mapElemAttr{mapFD: uint32(fd), key: ptr(k), value: ptr(v)}
	_, err := bpfCall(bpfMapLookupElem, unsafe.Pointer(&a), unsafe.Sizeof(a))
	runtime.KeepAlive(k)
	runtime.KeepAlive(v)
	return *v, err == nil
}

func bpfUpdate(fd int, key uint64, val uint32) error {
	k, v := heapU64(key), heapU32(val)
	a := mapElemAttr{mapFD: uint32(fd), key: ptr(k), value: ptr(v), flags: bpfAnyElement}
	_, err := bpfCall(bpfMapUpdateElem, unsafe.Pointer(&a), unsafe.Sizeof(a))
	runtime.KeepAlive(k)
	runtime.KeepAlive(v)
	return err
}

func bpfDelete(fd int, key uint64) error {
	k := heapU64(key)
	a := mapElemAttr{mapFD: uint32(fd), key: ptr(k)}
	_, err := bpfCall(bpfMapDeleteElem, unsafe.Pointer(&a), unsafe.Sizeof(a))
	runtime.KeepAlive(k)
	return err
}

// bpfKeys lists a map's keys.
func bpfKeys(fd int) ([]uint64, error) {
	var out []uint64
	prev, next := heapU64(0), heapU64(0)
	first := true
	for {
		a := mapElemAttr{mapFD: uint32(fd), value: ptr(next)}
		if !first {
			a.key = ptr(prev)
		}
		_, err := bpfCall(bpfMapGetNextKey, unsafe.Pointer(&a), unsafe.Sizeof(a))
		runtime.KeepAlive(prev)
		runtime.KeepAlive(next)
		if err == syscall.ENOENT {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, *next)
		*prev, first = *next, false
	}
}

func bpfProgLoadDevice(insns []uint64) (int, error) {
	license := bpfLicense
	attr := struct {
		progType, insnCnt  uint32
		insns, license     uint64
		logLevel, logSize  uint32
		logBuf             uint64
		kernVersion, flags uint32
	}{progType: bpfProgTypeCgroupDevice, insnCnt: uint32(len(insns)),
		insns: ptr(&insns[0]), license: ptr(&license[0])}
	fd, err := bpfCall(bpfProgLoad, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(insns)
	runtime.KeepAlive(license)
	return fd, err
}

// bpfAttachDevice attaches prog to the cgroup directory's fd, replacing
// the one attached before (no flags: one program, which the group's
// descendants inherit and cannot override).
func bpfAttachDevice(cgroupFD, prog int) error {
	attr := struct{ target, prog, attachType, flags, replace uint32 }{uint32(cgroupFD), uint32(prog), bpfCgroupDevice, 0, 0}
	_, err := bpfCall(bpfProgAttach, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	return err
}

// bpfQueryDevice lists the ids of the device programs attached to a
// cgroup (at most len(ids)); with nil ids it only checks the call works.
func bpfQueryDevice(cgroupFD int, ids []uint32) (int, error) {
	attr := struct {
		target, attachType, queryFlags, attachFlags uint32
		progIDs                                     uint64
		progCnt, _                                  uint32
	}{target: uint32(cgroupFD), attachType: bpfCgroupDevice}
	if len(ids) > 0 {
		attr.progIDs = ptr(&ids[0])
		attr.progCnt = uint32(len(ids))
	}
	_, err := bpfCall(bpfProgQuery, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(ids)
	return int(attr.progCnt), err
}

func bpfGetFDByID(cmd int, id uint32) (int, error) {
	attr := struct{ id, next, flags uint32 }{id: id}
	return bpfCall(cmd, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
}

// bpfInfo fills info (a bpf_prog_info or bpf_map_info prefix) for fd.
func bpfInfo(fd int, info []byte) error {
	attr := struct {
		fd, infoLen uint32
		info        uint64
	}{uint32(fd), uint32(len(info)), ptr(&info[0])}
	_, err := bpfCall(bpfObjGetInfoByFD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(info)
	return err
}

// bpfProgMapID is the first map a program uses (bpf_prog_info's
// nr_map_ids at offset 52 and map_ids at 56).
func bpfProgMapID(prog int) (uint32, bool, error) {
	id := heapU32(0)
	info := heapBytes(64)
	*(*uint32)(unsafe.Pointer(&info[52])) = 1
	*(*uint64)(unsafe.Pointer(&info[56])) = ptr(id)
	err := bpfInfo(prog, info)
	runtime.KeepAlive(id)
	if err != nil {
		return 0, false, err
	}
	return *id, *(*uint32)(unsafe.Pointer(&info[52])) > 0, nil
}

// bpfMapMaxEntries is bpf_map_info's max_entries (offset 16).
func bpfMapMaxEntries(fd int) (int, error) {
	info := heapBytes(24)
	if err := bpfInfo(fd, info); err != nil {
		return 0, err
	}
	return int(*(*uint32)(unsafe.Pointer(&info[16]))), nil
}

// A BPF instruction: opcode, dst and src registers, offset, immediate.
func insn(code uint8, dst, src uint8, off int16, imm int32) uint64 {
	return uint64(code) | uint64(dst&0xf|src<<4)<<8 | uint64(uint16(off))<<16 | uint64(uint32(imm))<<32
}

// Opcodes used by the device program.
const (
	opLdxW    = 0x61 // dst = *(u32 *)(src + off)
	opStxDW   = 0x7b // *(u64 *)(dst + off) = src
	opMov64X  = 0xbf
	opMov64K  = 0xb7 // dst = imm, sign-extended
	opMov32K  = 0xb4 // dst = (u32)imm, zero-extended
	opAdd64K  = 0x07
	opLsh64K  = 0x67
	opOr64X   = 0x4f
	opAnd64X  = 0x5f
	opJeqK    = 0x15
	opJeqX    = 0x1d
	opLdImm64 = 0x18
	opCall    = 0x85
	opExit    = 0x95

	helperMapLookup = 1
)

// deviceProgram is the device filter: the access (ctx->access_type,
// "access << 16 | type") is allowed when the map holds, for the exact
// major:minor, for major:* (minor 0xffffffff), *:minor or *:*, a value
// with the device's type bit and every access bit asked for (the key is
// major << 32 | minor, the value access << 16 | types, as libvirt's
// program and map, so the two read each other's lists).
func deviceProgram(mapFD int) []uint64 {
	const r0, r1, r2, r6, r7, r8, r9, r10 = 0, 1, 2, 6, 7, 8, 9, 10
	p := []uint64{
		insn(opMov64X, r6, r1, 0, 0),
		insn(opLdxW, r7, r6, 0, 0), // access_type
		insn(opLdxW, r8, r6, 4, 0), // major
		insn(opLdxW, r9, r6, 8, 0), // minor
	}
	var allowJumps []int
	// Each key variant leaves its key in r1.
	keys := [][]uint64{
		{insn(opMov64X, r1, r8, 0, 0), insn(opLsh64K, r1, 0, 0, 32), insn(opOr64X, r1, r9, 0, 0)},
		{insn(opMov64X, r1, r8, 0, 0), insn(opLsh64K, r1, 0, 0, 32), insn(opMov32K, r2, 0, 0, -1), insn(opOr64X, r1, r2, 0, 0)},
		{insn(opMov64K, r1, 0, 0, -1), insn(opLsh64K, r1, 0, 0, 32), insn(opOr64X, r1, r9, 0, 0)},
		{insn(opMov64K, r1, 0, 0, -1)},
	}
	for _, k := range keys {
		p = append(p, k...)
		p = append(p,
			insn(opStxDW, r10, r1, -8, 0),
			insn(opMov64X, r2, r10, 0, 0),
			insn(opAdd64K, r2, 0, 0, -8),
			insn(opLdImm64, r1, bpfPseudoMap, 0, int32(mapFD)), 0,
			insn(opCall, 0, 0, 0, helperMapLookup),
			insn(opJeqK, r0, 0, 3, 0), // no entry: next key
			insn(opLdxW, r1, r0, 0, 0),
			insn(opAnd64X, r1, r7, 0, 0),
		)
		allowJumps = append(allowJumps, len(p))
		p = append(p, insn(opJeqX, r1, r7, 0, 0)) // patched below
	}
	p = append(p, insn(opMov64K, r0, 0, 0, 0), insn(opExit, 0, 0, 0, 0))
	allow := len(p)
	p = append(p, insn(opMov64K, r0, 0, 0, 1), insn(opExit, 0, 0, 0, 0))
	for _, j := range allowJumps {
		p[j] = insn(opJeqX, r1, r7, int16(allow-j-1), 0)
	}
	return p
}

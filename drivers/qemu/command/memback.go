package command

// memoryBackendType picks pc.ram's backend from <memoryBacking> for a
// guest without NUMA cells (qemuBuildMemoryBackendProps): memfd when
// asked for, which is what vhost-user devices (virtiofs) need to share
// guest memory with their backend. Only <source type='memfd'> and
// <access mode> are implemented; check.go refuses the rest.
func (b *builder) memoryBackend(o obj) (obj, error) {
	mb := child(b.def.Tree(), "memoryBacking")
	if mb == nil {
		return o, nil
	}
	src := attr(child(mb, "source"), "type")
	access := attr(child(mb, "access"), "mode")
	switch access {
	case "", "shared", "private":
	default:
		return nil, xmlError("unknown memoryBacking/access/mode '%s'", access)
	}
	switch src {
	case "", "anonymous":
		if access != "" {
			return nil, unsupported("<memoryBacking><access mode='%s'> needs <source type='memfd'> in govirt's QEMU driver", access)
		}
		return o, nil
	case "memfd":
	default:
		return nil, unsupportedValue("memoryBacking/source", "type", src)
	}
	size, _ := o.get("size")
	out := obj{}.set("qom-type", "memory-backend-memfd").set("id", "pc.ram")
	if access != "" {
		out = out.set("share", access == "shared")
	}
	// QEMU's own default RAM backend sets this; the explicit backend must
	// match it or migration to and from QEMU's default breaks.
	if b.caps.Has("memory-backend-file.x-use-canonical-path-for-ramblock-id") {
		out = out.set("x-use-canonical-path-for-ramblock-id", false)
	}
	return out.set("size", size), nil
}

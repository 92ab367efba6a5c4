package command

import (
	"path/filepath"
	"strconv"
	"strings"
)

// <launchSecurity type='sev'>: the sev-guest object lsec0 the machine's
// confidential-guest-support names (qemuBuildSEVCommandLine); the
// certificate and session blobs go to files in the domain directory the
// driver writes (Cmdline.Files).

func (b *builder) emitLaunchSecurity() error {
	ls := child(b.tree(), "launchSecurity")
	if ls == nil {
		return nil
	}
	switch typ := attr(ls, "type"); typ {
	case "sev":
	case "s390-pv":
		return unsupported("S390 PV launch security is not supported with this QEMU binary")
	default:
		return xmlError("unsupported launch security type '%s'", typ)
	}
	if !b.caps.Has("sev-guest") {
		return unsupported("SEV launch security is not supported with this QEMU binary")
	}
	kh := attr(ls, "kernelHashes")
	switch kh {
	case "", "yes", "no":
	default:
		return xmlError("Invalid value for attribute 'kernelHashes' in element 'launchSecurity': '%s'. Expected yes/no", kh)
	}
	if kh != "" && !b.caps.Has("sev-guest-kernel-hashes") {
		return unsupported("SEV measured direct kernel boot is not supported with this QEMU binary")
	}
	num := func(name string, base int, what string) (uint64, error) {
		e := child(ls, name)
		if e == nil {
			return 0, unsupported("launch security %s is not set and govirt cannot read it from the host's SEV capabilities", what)
		}
		n, err := strconv.ParseUint(strings.TrimPrefix(e.Text(), "0x"), base, 32)
		if err != nil {
			return 0, xmlError("Invalid format for launch security %s", what)
		}
		return n, nil
	}
	policyEl := child(ls, "policy")
	if policyEl == nil {
		return xmlError("failed to get launch security policy")
	}
	policy, err := strconv.ParseUint(strings.TrimPrefix(policyEl.Text(), "0x"), 16, 32)
	if err != nil {
		return xmlError("failed to get launch security policy")
	}
	cbit, err := num("cbitpos", 10, "cbitpos")
	if err != nil {
		return err
	}
	rpb, err := num("reducedPhysBits", 10, "reduced-phys-bits")
	if err != nil {
		return err
	}
	o := obj{}.set("qom-type", "sev-guest").set("id", "lsec0").set("cbitpos", cbit).
		set("reduced-phys-bits", rpb).set("policy", policy)
	for _, f := range []struct{ elem, prop, file string }{
		{"dhCert", "dh-cert-file", "dh_cert.base64"}, {"session", "session-file", "session.base64"}} {
		if e := child(ls, f.elem); e != nil && e.Text() != "" {
			path := filepath.Join(b.p.DomainDir, f.file)
			b.writeFiles = append(b.writeFiles, WriteFile{Path: path, Data: []byte(e.Text())})
			o = o.set(f.prop, path)
		}
	}
	switch kh {
	case "yes":
		o = o.set("kernel-hashes", true)
	case "no":
		o = o.set("kernel-hashes", false)
	}
	b.object(o)
	return nil
}

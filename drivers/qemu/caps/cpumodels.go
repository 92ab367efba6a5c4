package caps

// x86ModelVendors lists the x86 CPU models libvirt 9.0's CPU map knows,
// with the vendor it attributes to each. domcapabilities offers only
// these as custom models: QEMU's versioned aliases (Skylake-Client-v2)
// and its pseudo models (max, base) have no libvirt definition.
var x86ModelVendors = map[string]string{
	"486": "unknown", "pentium": "unknown", "pentium2": "unknown", "pentium3": "unknown",
	"pentiumpro": "unknown", "coreduo": "Intel", "n270": "Intel", "core2duo": "Intel",
	"qemu32": "unknown", "kvm32": "unknown", "cpu64-rhel5": "unknown", "cpu64-rhel6": "unknown",
	"kvm64": "unknown", "qemu64": "unknown",
	"Conroe": "Intel", "Penryn": "Intel", "Nehalem": "Intel", "Nehalem-IBRS": "Intel",
	"Westmere": "Intel", "Westmere-IBRS": "Intel", "SandyBridge": "Intel", "SandyBridge-IBRS": "Intel",
	"IvyBridge": "Intel", "IvyBridge-IBRS": "Intel",
	"Haswell": "Intel", "Haswell-IBRS": "Intel", "Haswell-noTSX": "Intel", "Haswell-noTSX-IBRS": "Intel",
	"Broadwell": "Intel", "Broadwell-IBRS": "Intel", "Broadwell-noTSX": "Intel", "Broadwell-noTSX-IBRS": "Intel",
	"Skylake-Client": "Intel", "Skylake-Client-IBRS": "Intel", "Skylake-Client-noTSX-IBRS": "Intel",
	"Skylake-Server": "Intel", "Skylake-Server-IBRS": "Intel", "Skylake-Server-noTSX-IBRS": "Intel",
	"Cascadelake-Server": "Intel", "Cascadelake-Server-noTSX": "Intel", "Cooperlake": "Intel",
	"Icelake-Client": "Intel", "Icelake-Client-noTSX": "Intel",
	"Icelake-Server": "Intel", "Icelake-Server-noTSX": "Intel", "Snowridge": "Intel",
	"athlon": "AMD", "phenom": "AMD",
	"Opteron_G1": "AMD", "Opteron_G2": "AMD", "Opteron_G3": "AMD", "Opteron_G4": "AMD", "Opteron_G5": "AMD",
	"EPYC": "AMD", "EPYC-IBPB": "AMD", "EPYC-Rome": "AMD", "EPYC-Milan": "AMD",
	"Dhyana": "Hygon",
}

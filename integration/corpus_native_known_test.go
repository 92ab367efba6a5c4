package integration

// nativeKnown lists every corpus input whose domxml-to-native outcome is
// neither an identical command line nor the same refusal from both
// daemons, with the reason; TestCorpusNativeMatchesLibvirtd fails on one
// not listed and reports a listed one that no longer needs to be. Some
// outcomes follow this host (no /dev/tpm0, /dev/vhost-scsi,
// vhost-user-gpu helper or hugetlbfs mount): libvirtd's pretend start
// opens those devices too.
var nativeKnown = map[string]string{
	// govirtd refuses, libvirtd prints a command line.
	"disk-scsi":                     "an ibmvscsi controller (spapr-vio reg=): a POWER device x86 QEMU lacks; govirt refuses it, libvirt prints it",
	"disk-serial":                   "a disk on bus='sd': x86 QEMU has no SD bus; govirt refuses it, libvirt prints it",
	"disk-transient":                "<transient/> disks (an overlay created at start) are not implemented",
	"disk-virtio-scsi-reservations": "persistent reservations need a managed qemu-pr-helper, not implemented",
	// libvirtd refuses, govirtd prints a command line.
	"net-user-passt": "<backend type='passt'>: libvirt 9.0's parser does not know it yet; govirt accepts it (and domxml-to-native makes it an ethernet interface, as any)",
	// Both refuse, with different messages.
	"disk-source-pool":            "<source pool volume> is not translated by govirt; libvirt finds no such pool",
	"disk-source-pool-mode":       "<source pool volume> is not translated by govirt; libvirt finds no such pool",
	"luks-disks-source":           "<source pool volume> is not translated by govirt; libvirt stops at the missing secret",
	"luks-disks-source-qcow2":     "<source pool volume> is not translated by govirt; libvirt stops at the missing secret",
	"hostdev-scsi-lsi":            "libvirt stops at the iSCSI hostdev's missing secret; govirt first at the host SCSI device this host lacks",
	"hostdev-scsi-virtio-scsi":    "libvirt stops at the iSCSI hostdev's missing secret; govirt first at the host SCSI device this host lacks",
	"user-aliases":                "libvirt stops at a missing secret; govirt first at hugetlbfs, which this host has not mounted",
	"tpm-passthrough":             "no /dev/tpm0: libvirt fails opening it, govirt first finds no sysfs cancel file",
	"tpm-passthrough-crb":         "no /dev/tpm0: libvirt fails opening it, govirt first finds no sysfs cancel file",
	"vhost-user-gpu-secondary":    "no vhost-user-gpu helper on this host: the two daemons word it differently",
	"vhost-user-vga":              "no vhost-user-gpu helper on this host: the two daemons word it differently",
	"virtio-options":              "no vhost-user-gpu helper on this host: the two daemons word it differently",
	"virtio-options-video-ats":    "no vhost-user-gpu helper on this host: the two daemons word it differently",
	"virtio-options-video-iommu":  "no vhost-user-gpu helper on this host: the two daemons word it differently",
	"virtio-options-video-packed": "no vhost-user-gpu helper on this host: the two daemons word it differently",
}

package integration

// The exception lists of TestVirshCoverage. Keys are "DRIVER COMMAND".

// covNotRun are commands the test never runs, with the reason.
var covNotRun = map[string]string{
	"test console":           "interactive: needs a terminal (integration/console_test.go drives it over the RPC stream)",
	"qemu console":           "interactive: needs a terminal (integration/console_test.go drives it over the RPC stream)",
	"qemu nodesuspend":       "would suspend this host",
	"qemu nodedev-detach":    "would take a PCI device from its host driver; this host has no spare device (hardware)",
	"qemu nodedev-reattach":  "would give a PCI device to its host driver; this host has no spare device (hardware)",
	"qemu nodedev-reset":     "would reset a host PCI device; this host has no spare device (hardware)",
	"qemu nodedev-create":    "would create a host device (vHBA or mediated device); this host has no FC HBA or mdev parent (hardware)",
	"qemu nodedev-destroy":   "would destroy a host device; this host has no vHBA or mediated device (hardware)",
	"qemu nodedev-define":    "would define a persistent mediated device (mdevctl); this host has no mdev parent (hardware)",
	"qemu nodedev-undefine":  "needs a defined mediated device; this host has no mdev parent (hardware)",
	"qemu nodedev-start":     "needs a defined mediated device; this host has no mdev parent (hardware)",
	"qemu nodedev-autostart": "needs a defined mediated device; this host has no mdev parent (hardware)",
	"qemu iface-bridge":      "would move a host interface into a new bridge",
	"qemu iface-unbridge":    "would take apart a host bridge",
}

// covHardware are commands that fail on both daemons because this host
// lacks the hardware.
var covHardware = map[string]string{
	"qemu domlaunchsecinfo":     "needs an AMD SEV host and guest",
	"qemu domsetlaunchsecstate": "needs an AMD SEV host and guest",
	"qemu nodesevinfo":          "needs an AMD SEV host",
}

// covFamilies are the commands other open issues (or helpers working on
// them now) own, by driver: a command of these may work on libvirtd and
// still fail on govirtd.
var covFamilies = []struct {
	drv, why string
	cmds     []string
}{
	{"qemu", "guest agent writes: issue 15", []string{
		"domfsfreeze", "domfsthaw", "domfstrim", "domtime",
		"get-user-sshkeys", "set-user-sshkeys", "set-user-password", "guestvcpus",
		"dompmsuspend", "dompmwakeup"}},
	{"qemu", "checkpoints on QEMU: issue 14 leaves them to a later issue", []string{
		"checkpoint-create", "checkpoint-create-as", "checkpoint-delete", "checkpoint-dumpxml",
		"checkpoint-edit", "checkpoint-info", "checkpoint-list", "checkpoint-parent"}},
	{"qemu", "backup on QEMU", []string{"backup-begin", "backup-dumpxml"}},
	{"qemu", "numatune through cgroups: issue 15", []string{"numatune"}},
}

// covException says whether a command that works on libvirtd may fail on
// govirtd, and why.
func covException(drv, cmd string) (string, bool) {
	for _, f := range covFamilies {
		if f.drv != drv {
			continue
		}
		for _, c := range f.cmds {
			if c == cmd {
				return f.why, true
			}
		}
	}
	return "", false
}

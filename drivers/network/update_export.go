package network

import "govirt/conf"

// UpdateDHCPHost applies one ip-dhcp-host change (add-first, add-last,
// modify, delete of a <host> under the <ip> parentIndex) to def, as
// virNetworkDefUpdateIPDHCPHost; the test driver updates its networks with
// it too.
func UpdateDHCPHost(def *conf.Network, command uint32, parentIndex int32, doc string) error {
	if err := updateDHCPHost(def, command, parentIndex, doc); err != nil {
		return err
	}
	return checkDef(def)
}

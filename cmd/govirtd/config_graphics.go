package main

import (
	"strconv"

	"govirt/drivers/qemu/command"
)

// setGraphics applies one of qemu.conf's display and audio settings (the
// same keys and meanings; booleans as 0/1) to g. It reports whether key
// is one of them.
func setGraphics(g *command.GraphicsConfig, key, val string) (bool, error) {
	strs := map[string]*string{
		"vnc_password": &g.VNCPassword, "spice_password": &g.SpicePassword,
		"vnc_listen": &g.VNCListen, "vnc_tls_x509_cert_dir": &g.VNCTLSx509CertDir, "vnc_sasl_dir": &g.VNCSASLDir,
		"spice_listen": &g.SpiceListen, "spice_tls_x509_cert_dir": &g.SpiceTLSx509CertDir, "spice_sasl_dir": &g.SpiceSASLDir,
	}
	bools := map[string]*bool{
		"vnc_auto_unix_socket": &g.VNCAutoUnixSocket, "vnc_tls": &g.VNCTLS, "vnc_tls_x509_verify": &g.VNCTLSx509Verify,
		"vnc_sasl": &g.VNCSASL, "vnc_allow_host_audio": &g.VNCAllowHostAudio,
		"spice_auto_unix_socket": &g.SpiceAutoUnixSocket, "spice_tls": &g.SpiceTLS, "spice_sasl": &g.SpiceSASL,
		"nogfx_allow_host_audio": &g.NogfxAllowHostAudio,
	}
	if p, ok := strs[key]; ok {
		*p = val
		return true, nil
	}
	if p, ok := bools[key]; ok {
		n, err := strconv.Atoi(val)
		if err != nil {
			return true, err
		}
		*p = n != 0
		return true, nil
	}
	return false, nil
}

package test

import (
	"net"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// virsh domiftune as libvirt's test driver: the rates are the
// interface's <bandwidth> in the one definition the flags name.

// findNet is virDomainNetFind: by MAC when dev parses as one, otherwise
// by host-side name.
func findNet(def *conf.Domain, dev string) (*conf.Interface, error) {
	mac, macErr := net.ParseMAC(dev)
	for _, n := range def.Devices.Interfaces {
		if macErr == nil {
			if m, err := net.ParseMAC(n.MAC); err == nil && m.String() == mac.String() {
				return n, nil
			}
		} else if n.TargetDev != "" && n.TargetDev == dev {
			return n, nil
		}
	}
	return nil, virerr.New(virerr.FromDomain, virerr.ErrInvalidArg, "'%s' is not a known interface", dev)
}

func (in *instance) DomainSetInterfaceParameters(d driver.Domain, device string, params []driver.TypedParam, flags uint32) error {
	if err := checkFlags(flags, affectLive|affectConfig, "testDomainSetInterfaceParameters"); err != nil {
		return err
	}
	ch, err := driver.ParseBandwidthParams(params)
	if err != nil {
		return err
	}
	return in.updateDom(d, func(o *domObj) error {
		def, _, err := o.oneDef(flags)
		if err != nil {
			return err
		}
		n, err := findNet(def, device)
		if err != nil {
			return err
		}
		i, out := ch.MergeConfig(conf.InterfaceBandwidth(n))
		conf.SetInterfaceBandwidth(n, i, out)
		return nil
	})
}

func (in *instance) DomainGetInterfaceParameters(d driver.Domain, device string, flags uint32) ([]driver.TypedParam, error) {
	if err := checkFlags(flags, affectLive|affectConfig|typedParamStringOkay, "testDomainGetInterfaceParameters"); err != nil {
		return nil, err
	}
	if device == "" {
		// nparams 0: the count, before the domain is looked at.
		return nil, nil
	}
	var ps []driver.TypedParam
	err := in.withDom(d, func(o *domObj) error {
		def, _, err := o.oneDef(flags &^ typedParamStringOkay)
		if err != nil {
			return err
		}
		n, err := findNet(def, device)
		if err != nil {
			return err
		}
		ps = driver.BandwidthParams(conf.InterfaceBandwidth(n))
		return nil
	})
	return ps, err
}

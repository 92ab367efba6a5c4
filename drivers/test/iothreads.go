package test

import (
	"strconv"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// iothreadadd and iothreaddel as libvirt's test driver: the definition the
// flags name gains or loses the iothread id (virDomainDriverAddIOThreadCheck
// and virDomainDriverDelIOThreadCheck's refusals).

func (in *instance) DomainAddIOThread(d driver.Domain, id uint32, flags uint32) error {
	if err := checkFlags(flags, affectLive|affectConfig, "testDomainAddIOThread"); err != nil {
		return err
	}
	if id == 0 {
		return errTest(virerr.ErrInvalidArg, "invalid value of 0 for iothread_id")
	}
	return in.updateDom(d, func(o *domObj) error {
		def, _, err := o.oneDef(flags)
		if err != nil {
			return err
		}
		for _, x := range def.IOThreadIDs() {
			if uint32(x) == id {
				return errTest(virerr.ErrInvalidArg, "an IOThread is already using iothread_id '%d'", id)
			}
		}
		def.AddIOThreadID(int(id))
		o.iothreads = append(o.iothreads, newIOThreadPoll(id))
		return nil
	})
}

func (in *instance) DomainDelIOThread(d driver.Domain, id uint32, flags uint32) error {
	if err := checkFlags(flags, affectLive|affectConfig, "testDomainDelIOThread"); err != nil {
		return err
	}
	if id == 0 {
		return errTest(virerr.ErrInvalidArg, "invalid value of 0 for iothread_id")
	}
	return in.updateDom(d, func(o *domObj) error {
		def, _, err := o.oneDef(flags)
		if err != nil {
			return err
		}
		for _, x := range def.IOThreadIDs() {
			if uint32(x) == id {
				for _, disk := range def.Devices.Disks {
					drv := conf.DeviceElement(disk).Child("driver")
					if drv == nil {
						continue
					}
					if v, _ := drv.Attr("iothread"); v == strconv.Itoa(int(id)) {
						return errTest(virerr.ErrInvalidArg, "cannot remove IOThread %d since it is being used by disk '%s'", id, disk.TargetDev)
					}
				}
				def.DelIOThreadID(int(id))
				o.dropIOThreadPoll(id)
				return nil
			}
		}
		return errTest(virerr.ErrInvalidArg, "cannot find IOThread '%d' in iothreadids list", id)
	})
}

package nwfilter

import (
	"strings"
	"time"
)

// learnInterval is how often a binding waiting for its guest's IP
// address asks Config.LearnIP.
var learnInterval = time.Second

// startLearning starts asking for b's IP address (mu held), once per
// port; without Config.LearnIP the binding stays without rules, as
// logged.
func (m *Manager) startLearning(b *Binding) {
	if m.cfg.LearnIP == nil && m.cfg.SniffIP == nil {
		m.log.Warn("network filter needs the guest's IP address and nothing can learn it: no rules applied until the binding names IP",
			"portdev", b.PortDev, "filter", b.Filter)
		return
	}
	if _, ok := m.learners[b.PortDev]; ok {
		return
	}
	stop := make(chan struct{})
	m.learners[b.PortDev] = stop
	m.log.Info("learning the guest's IP address for its network filter", "portdev", b.PortDev, "filter", b.Filter)
	how := detectDHCP | detectStatic
	if v := b.Params[varLearning]; len(v) > 0 && strings.EqualFold(v[0], "dhcp") {
		how = detectDHCP
	}
	go m.learn(b, how, stop)
}

// stopLearning ends the learning of port (mu held).
func (m *Manager) stopLearning(port string) {
	if stop, ok := m.learners[port]; ok {
		close(stop)
		delete(m.learners, port)
	}
}

func (m *Manager) learn(b *Binding, how int, stop chan struct{}) {
	t := time.NewTicker(learnInterval)
	defer t.Stop()
	sniffed := make(chan string, 1)
	if m.cfg.SniffIP != nil {
		port, mac := b.PortDev, b.MAC
		go func() {
			if ip, ok := m.cfg.SniffIP(port, mac, how, stop); ok {
				sniffed <- ip
			}
		}()
	}
	for {
		var ip string
		ok := false
		select {
		case <-stop:
			return
		case ip = <-sniffed:
			ok = true
		case <-t.C:
			if m.cfg.LearnIP != nil {
				ip, ok = m.cfg.LearnIP(b)
			}
		}
		if !ok || ip == "" || strings.Trim(ip, validVarValue) != "" {
			continue
		}
		m.mu.Lock()
		select {
		case <-stop:
			m.mu.Unlock()
			return
		default:
		}
		m.stopLearning(b.PortDev) // ends the sniffer too
		if m.bindings[b.PortDev] == b {
			// As libvirt, the learned address becomes the binding's IP
			// variable.
			if _, have := b.Params[varIP]; !have {
				b.Params[varIP] = []string{ip}
			}
			if err := m.instantiate(b, nil); err != nil {
				m.log.Warn("cannot apply the network filter with the learned IP address", "portdev", b.PortDev, "ip", ip, "err", err)
			} else {
				m.log.Info("network filter applied with the learned IP address", "portdev", b.PortDev, "ip", ip)
			}
			if err := m.saveBinding(b); err != nil {
				m.log.Error("cannot save the network filter binding", "portdev", b.PortDev, "err", err)
			}
		}
		m.mu.Unlock()
		return
	}
}

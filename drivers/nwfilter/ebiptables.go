package nwfilter

import "log/slog"

// NewEbiptables is the ebtables/iptables/ip6tables technology driver.
func NewEbiptables(log *slog.Logger) Tech { return nil }

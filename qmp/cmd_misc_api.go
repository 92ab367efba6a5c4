package qmp

import "context"

// InjectNMI runs inject-nmi: a non-maskable interrupt to every vCPU.
func InjectNMI(ctx context.Context, e Executor) error { return run(ctx, e, "inject-nmi", nil, nil) }

// BlockIOStatus is the part of a query-block entry libvirt reads for
// virDomainGetDiskErrors.
type BlockIOStatus struct {
	Device   string `json:"device"`
	QDev     string `json:"qdev"`
	IOStatus string `json:"io-status"` // "ok", "failed", "nospace"; absent without werror/rerror stop
}

// QueryBlockIOStatus runs query-block for the devices' I/O status.
func QueryBlockIOStatus(ctx context.Context, e Executor) ([]BlockIOStatus, error) {
	var l []BlockIOStatus
	err := run(ctx, e, "query-block", nil, &l)
	return l, err
}

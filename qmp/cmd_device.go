package qmp

import (
	"context"
	"os"
)

// Devices, backends and descriptors.

// DeviceAdd runs device_add; props are the device's properties
// ("driver", "id", "bus", ...), as the command builder produces them.
func DeviceAdd(ctx context.Context, e Executor, props any) error {
	return run(ctx, e, "device_add", props, nil)
}

// DeviceDel runs device_del. It returns once the unplug was requested;
// DEVICE_DELETED reports the end.
func DeviceDel(ctx context.Context, e Executor, devID string) error {
	return run(ctx, e, "device_del", id{devID}, nil)
}

// NetdevAdd runs netdev_add with the backend's properties.
func NetdevAdd(ctx context.Context, e Executor, props any) error {
	return run(ctx, e, "netdev_add", props, nil)
}

// NetdevDel runs netdev_del.
func NetdevDel(ctx context.Context, e Executor, netdevID string) error {
	return run(ctx, e, "netdev_del", id{netdevID}, nil)
}

// Getfd runs getfd, passing f to QEMU under name.
func Getfd(ctx context.Context, e FileExecutor, name string, f *os.File) error {
	return e.ExecuteWithFiles(ctx, "getfd", struct {
		FDName string `json:"fdname"`
	}{name}, nil, f)
}

// ChardevInfo is an entry of query-chardev.
type ChardevInfo struct {
	Label    string `json:"label"`
	Filename string `json:"filename"` // "pty:/dev/pts/N", "unix:...", ...
	// FrontendOpen: the guest has the device open (for a virtio-serial
	// port: the guest side of the port is open).
	FrontendOpen bool `json:"frontend-open"`
}

// QueryChardev runs query-chardev.
func QueryChardev(ctx context.Context, e Executor) ([]ChardevInfo, error) {
	var l []ChardevInfo
	err := run(ctx, e, "query-chardev", nil, &l)
	return l, err
}

// Display.

// VNCInfo is query-vnc's reply.
type VNCInfo struct {
	Enabled bool   `json:"enabled"`
	Host    string `json:"host"`
	Service string `json:"service"`
}

// QueryVNC runs query-vnc.
func QueryVNC(ctx context.Context, e Executor) (VNCInfo, error) {
	var i VNCInfo
	err := run(ctx, e, "query-vnc", nil, &i)
	return i, err
}

// SetPassword runs set_password for protocol ("vnc", "spice").
func SetPassword(ctx context.Context, e Executor, protocol, password string) error {
	return run(ctx, e, "set_password", struct {
		Protocol string `json:"protocol"`
		Password string `json:"password"`
	}{protocol, password}, nil)
}

// ExpirePassword runs expire_password; when is "now", "never", "+N" or
// an absolute time, as QEMU takes it.
func ExpirePassword(ctx context.Context, e Executor, protocol, when string) error {
	return run(ctx, e, "expire_password", struct {
		Protocol string `json:"protocol"`
		Time     string `json:"time"`
	}{protocol, when}, nil)
}

// ScreendumpArgs are screendump's arguments.
type ScreendumpArgs struct {
	Filename string `json:"filename"`
	Device   string `json:"device,omitempty"`
	Head     int    `json:"head,omitempty"`
	Format   string `json:"format,omitempty"` // "ppm" (default) or "png"
}

// Screendump runs screendump.
func Screendump(ctx context.Context, e Executor, a ScreendumpArgs) error {
	return run(ctx, e, "screendump", a, nil)
}

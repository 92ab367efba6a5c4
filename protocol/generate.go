// Package protocol holds libvirt's protocol definitions (libvirt-9.0/) and
// runs the generator that turns them into Go; see libvirt-9.0/README.md.
package protocol

//go:generate go run ../internal/xdrgen -x libvirt-9.0 -root ..

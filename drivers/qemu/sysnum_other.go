//go:build !amd64 && !arm64

package qemu

// sysSetns: the private /dev cannot be changed where the number is not
// known here.
const sysSetns = -1

var setnsNum = sysSetns

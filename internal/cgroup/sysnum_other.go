//go:build !amd64 && !arm64

package cgroup

// sysBPF: no device programs where the number is not known here.
const sysBPF = -1

var sysBPFNum = sysBPF

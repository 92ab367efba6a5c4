package cgroup

// sysBPF is bpf(2)'s number, which package syscall does not have.
const sysBPF = 280

var sysBPFNum = sysBPF

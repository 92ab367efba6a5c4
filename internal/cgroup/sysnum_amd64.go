package cgroup

// sysBPF is bpf(2)'s number, which package syscall does not have.
const sysBPF = 321

var sysBPFNum = sysBPF

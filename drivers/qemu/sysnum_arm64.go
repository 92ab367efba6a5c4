package qemu

// sysSetns is setns(2)'s number.
const sysSetns = 268

var setnsNum = sysSetns

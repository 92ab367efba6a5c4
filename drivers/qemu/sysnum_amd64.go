package qemu

// sysSetns is setns(2)'s number.
const sysSetns = 308

var setnsNum = sysSetns

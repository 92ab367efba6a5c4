// Package keycode translates key codes between libvirt's codesets
// (virKeycodeSet) with tables generated from libvirt 9.0's keymaps.csv.
package keycode

// Tables per codeset, as libvirt's virkeycode.c maps them: XT shares AT
// set 1's table, and RFB is QNUM.
var tables = [...]*[454]uint16{
	0: &keycodes_linux,
	1: &keycodes_atset1, // xt
	2: &keycodes_atset1,
	3: &keycodes_atset2,
	4: &keycodes_atset3,
	5: &keycodes_osx,
	6: &keycodes_xtkbd,
	7: &keycodes_usb,
	8: &keycodes_win32,
	9: &keycodes_qnum,
}

// Names are virKeycodeSetTypeToString's.
var Names = [...]string{"linux", "xt", "atset1", "atset2", "atset3", "os_x", "xt_kbd", "usb", "win32", "qnum"}

// QNUM is VIR_KEYCODE_SET_QNUM; Sets is VIR_KEYCODE_SET_LAST.
const (
	QNUM = 9
	Sets = 10
)

// Translate is virKeycodeValueTranslate: the first Linux key whose code
// in from is v, in to's codeset; -1 when there is none or a set is out of
// range.
func Translate(from, to int, v uint32) int {
	if from < 0 || from >= Sets || to < 0 || to >= Sets {
		return -1
	}
	for i := range tables[from] {
		if uint32(tables[from][i]) == v {
			return int(tables[to][i])
		}
	}
	return -1
}

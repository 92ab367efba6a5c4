package keycode

import "testing"

// Translations checked against keymaps.csv's rows.
func TestTranslateKeycode(t *testing.T) {
	for _, c := range []struct {
		from int
		v    uint32
		want int
	}{
		{0, 30, 0x1e},    // linux KEY_A
		{0, 97, 0x9d},    // linux KEY_RIGHTCTRL: extended, 0xe0 0x1d
		{7, 4, 0x1e},     // usb A
		{3, 0x1c, 0x1e},  // atset2 A
		{1, 0x1e, 0x1e},  // xt = atset1
		{8, 0x41, 0x1e},  // win32 VK_A
		{5, 0x00, 0x1e},  // os_x ANSI_A
		{9, 0x1e, 0x1e},  // qnum itself
		{7, 0xffff, -1},  // no such usb code
		{0, 1000000, -1}, // nor linux
	} {
		if got := Translate(c.from, QNUM, c.v); got != c.want {
			t.Errorf("%s %#x: got %#x, want %#x", Names[c.from], c.v, got, c.want)
		}
	}
}

package conf

import (
	"strings"
	"testing"
)

// <sound> and <audio> are typed devices whose content (codecs, backend
// references, backend settings) rides along in their elements: a
// definition reads back as written, attach places them in libvirt's
// device order and detach finds them.
func TestSoundAudioDevices(t *testing.T) {
	doc := `<domain type='qemu'>
  <name>s</name>
  <memory unit='KiB'>131072</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>
  <devices>
    <graphics type='vnc' port='5901' autoport='no'>
      <listen type='address'/>
      <audio id='2'/>
    </graphics>
    <sound model='ich6'>
      <codec type='micro'/>
      <audio id='1'/>
    </sound>
    <audio id='1' type='pulseaudio' serverName='example.org'>
      <input mixingEngine='yes' name='fish'/>
      <output fixedSettings='yes'>
        <settings frequency='44100' channels='2' format='s16'/>
      </output>
    </audio>
    <audio id='2' type='none'/>
    <video>
      <model type='vga'/>
    </video>
  </devices>
</domain>`
	def, err := ParseDomain([]byte(doc), 0)
	if err != nil {
		t.Fatal(err)
	}
	ds := def.Devices
	if len(ds.Sounds) != 1 || ds.Sounds[0].Model != "ich6" || len(ds.Audios) != 2 || ds.Audios[0].ID != 1 ||
		ds.Audios[0].Type != "pulseaudio" || ds.Audios[1].Type != "none" {
		t.Fatalf("sounds %+v audios %+v", ds.Sounds, ds.Audios)
	}
	out, err := def.Format(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<codec type='micro'/>", "serverName='example.org'", "<settings frequency='44100' channels='2' format='s16'/>"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("formatted XML lacks %s:\n%s", want, out)
		}
	}
	dev, err := ParseDevice([]byte("<sound model='ac97'/>"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := dev.(*Sound); !ok {
		t.Fatalf("ParseDevice gave %T", dev)
	}
	if err := def.AddDevice(dev); err != nil {
		t.Fatal(err)
	}
	out, _ = def.Format(0)
	s := string(out)
	if i, j := strings.Index(s, "<sound model='ac97'/>"), strings.Index(s, "<audio id='1' type="); i < 0 || i > j {
		t.Errorf("the attached sound card is not among the sound cards:\n%s", s)
	}
	if err := def.RemoveDevice(dev); err != nil || len(def.Devices.Sounds) != 1 {
		t.Errorf("detach: %v, %d sound cards left", err, len(def.Devices.Sounds))
	}
	c := def.Clone()
	c.Devices.Audios[0].Type = "alsa"
	if def.Devices.Audios[0].Type != "pulseaudio" {
		t.Error("Clone shares the audio list")
	}
}

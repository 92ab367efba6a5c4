package conf

import (
	"bytes"
	"strings"
	"testing"
)

// fixedPoint checks that a parsed document formats, re-parses and formats
// to the same bytes.
func fixedPoint(t *testing.T, doc formatter, parse func([]byte) (formatter, error)) {
	first, err := doc.Format(FormatSecure)
	if err != nil {
		t.Fatalf("format: %v", err)
	}
	again, err := parse(first)
	if err != nil {
		t.Fatalf("re-parse of our own output failed: %v\n%s", err, first)
	}
	second, err := again.Format(FormatSecure)
	if err != nil {
		t.Fatalf("second format: %v", err)
	}
	if !bytes.Equal(first, second) {
		t.Fatalf("not a fixed point:\n%s\n---\n%s", first, second)
	}
}

func fuzzDoc(f *testing.F, seeds []string, parse func([]byte) (formatter, error)) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := parse(data)
		if err != nil {
			return
		}
		fixedPoint(t, doc, parse)
	})
}

func FuzzParseDomain(f *testing.F) {
	fuzzDoc(f, []string{minimalDomain,
		"<domain><name>a</name><memory unit='GB'>1</memory><currentMemory>5</currentMemory></domain>",
		"<domain id='3'><name>a&amp;b</name><metadata><x:y xmlns:x='urn:x'>t<z/>u</x:y></metadata></domain>",
		// Hostile shapes: past libxml2's depth limit, just inside it,
		// many attributes, text in many CDATA pieces.
		nestedMetadata(300), nestedMetadata(255), manyAttrs(200),
		"<domain><name>c</name><description>" + strings.Repeat("x<![CDATA[y]]>", 50) + "</description></domain>",
		"<domain><name>n</name><devices><disk type='network'><source protocol='nbd' name='x'><host name='h'/></source><backingStore type='file'><format type='raw'/><source file='/b'/><backingStore/></backingStore><target dev='vda'/></disk><serial type='pty'/><console type='pty'/></devices></domain>",
	}, func(b []byte) (formatter, error) { return ParseDomain(b, ParseLive) })
}

func FuzzParseNetwork(f *testing.F) {
	fuzzDoc(f, []string{
		"<network><name>default</name><forward/><bridge name='virbr0'/><ip address='192.168.122.1' netmask='255.255.255.0'><dhcp><range start='192.168.122.2' end='192.168.122.254'/><host mac='00:16:3e:77:e2:ed' name='a' ip='192.168.122.10'/></dhcp></ip></network>",
		"<network><name>n</name><ip family='ipv6' address='2001:db8::1' prefix='64'/></network>",
	}, func(b []byte) (formatter, error) { return ParseNetwork(b, 0) })
}

func FuzzParseStoragePool(f *testing.F) {
	fuzzDoc(f, []string{
		"<pool type='dir'><name>p</name><capacity unit='G'>1</capacity><target><path>/var/lib/x</path></target></pool>",
		"<pool type='logical'><source><name>vg</name><device path='/dev/sda1'/><device path='/dev/sdb1'/><format type='lvm2'/></source></pool>",
	}, func(b []byte) (formatter, error) { return ParseStoragePool(b, 0) })
}

func FuzzParseStorageVolume(f *testing.F) {
	fuzzDoc(f, []string{
		"<volume><name>v</name><capacity unit='MiB'>10</capacity><allocation>0</allocation><target><path>/p</path><format type='qcow2'/></target><backingStore><path>/b</path><format type='raw'/></backingStore></volume>",
		"<volume type='block'><name>v</name><key>k</key><capacity>1</capacity></volume>",
	}, func(b []byte) (formatter, error) { return ParseStorageVolume(b, 0) })
}

package client

import "testing"

func TestParseURI(t *testing.T) {
	for _, tc := range []struct {
		uri     string
		ro      bool
		want    Endpoint
		wantErr bool
	}{
		{uri: "test+unix:///default?socket=/tmp/s", want: Endpoint{"unix", "/tmp/s", "test:///default"}},
		{uri: "qemu+unix:///system?socket=/x/y", want: Endpoint{"unix", "/x/y", "qemu:///system"}},
		{uri: "qemu+tcp://127.0.0.1:1234/system", want: Endpoint{"tcp", "127.0.0.1:1234", "qemu:///system"}},
		{uri: "qemu+tcp://host/system", want: Endpoint{"tcp", "host:16509", "qemu:///system"}},
		{uri: "qemu:///system", want: Endpoint{"unix", "/var/run/libvirt/libvirt-sock", "qemu:///system"}},
		{uri: "qemu:///system", ro: true, want: Endpoint{"unix", "/var/run/libvirt/libvirt-sock-ro", "qemu:///system"}},
		{uri: "test:///default", want: Endpoint{"unix", "/var/run/libvirt/libvirt-sock", "test:///default"}},
		{uri: "test+unix:///default?socket=/s&foo=bar", want: Endpoint{"unix", "/s", "test:///default?foo=bar"}},
		{uri: "qemu://host/system", want: Endpoint{"tls", "host:16514", "qemu:///system"}},
		{uri: "qemu+tls://10.0.0.1:1/system?pkipath=/p&no_verify=1", want: Endpoint{"tls", "10.0.0.1:1", "qemu:///system"}},
		{uri: "qemu+ssh://host/system", wantErr: true},
		{uri: "nonsense", wantErr: true},
	} {
		got, err := ParseURI(tc.uri, tc.ro)
		if (err != nil) != tc.wantErr || (err == nil && got != tc.want) {
			t.Errorf("%s: got %+v, %v; want %+v", tc.uri, got, err, tc.want)
		}
	}
}

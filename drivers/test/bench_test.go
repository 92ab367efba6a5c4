package test

import (
	"fmt"
	"strings"
	"testing"

	"govirt/uuid"
)

// withDomains opens test:///default and defines n more domains.
func withDomains(b *testing.B, n int) *conn {
	b.Helper()
	c := openURI(b, New(), "test:///default")
	for i := 0; i < n; i++ {
		x := strings.Replace(demoXML, "<name>demo</name>", fmt.Sprintf("<name>dom%04d</name>", i), 1)
		x = strings.Replace(x, "11111111-2222-3333-4444-555555555555", uuid.New().String(), 1)
		d, err := c.DomainDefineXML(x, 0)
		if err != nil {
			b.Fatal(err)
		}
		if i%2 == 0 {
			if _, err := c.DomainCreate(d, 0); err != nil {
				b.Fatal(err)
			}
		}
	}
	return c
}

func BenchmarkListAllDomains1000(b *testing.B) {
	c := withDomains(b, 1000)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if l, _ := c.ListAllDomains(0); len(l) != 1001 {
				b.Fatal(len(l))
			}
		}
	})
}

func BenchmarkLookupAndInfo1000(b *testing.B) {
	c := withDomains(b, 1000)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			d, err := c.LookupDomainByName(fmt.Sprintf("dom%04d", i%1000))
			if err != nil {
				b.Fatal(err)
			}
			c.DomainGetInfo(d)
			c.DomainGetState(d, 0)
			i++
		}
	})
}

func BenchmarkAllDomainStats1000(b *testing.B) {
	c := withDomains(b, 1000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if s, _ := c.GetAllDomainStats(nil, 0, 0); len(s) != 1001 {
			b.Fatal(len(s))
		}
	}
}

func BenchmarkDumpXML(b *testing.B) {
	c := withDomains(b, 0)
	d, _ := c.LookupDomainByName("test")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.DomainGetXMLDesc(d, 0); err != nil {
			b.Fatal(err)
		}
	}
}

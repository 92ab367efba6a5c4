package client

import (
	"context"
	"testing"
)

func BenchmarkCallSequential(b *testing.B) {
	d := startDaemon(b, 0)
	c, err := Dial("test+unix:///default?socket=" + d.path)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		var r echo
		if err := c.Call(ctx, procEcho, &echo{"domain-name", 1}, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCallParallel(b *testing.B) {
	d := startDaemon(b, 0)
	c, err := Dial("test+unix:///default?socket=" + d.path)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			var r echo
			if err := c.Call(ctx, procEcho, &echo{"domain-name", 1}, &r); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

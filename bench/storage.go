package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"govirt/client"
	"govirt/remote"
	"govirt/rpc/procs"
)

const storageBytes = 1 << 30

var storageSettle = flag.Duration("storage-settle", 10*time.Second,
	"storage suite: pause after sync before each timed phase")

// benchStorageSuite times a 1 GiB vol-upload and a 1 GiB blockcopy of a
// running guest's disk on each daemon (QEMU driver, dir pool in a temp
// directory).
//
// Both phases are dominated by the kernel filling the page cache, and on
// a virtual machine that hands freed memory back to its host (free page
// reporting) that depends on history: pages freed a moment ago are
// cheap to reuse, pages handed back are faulted in again from the host,
// several times slower. Run back to back, whoever comes second would
// write into the 2 GiB the first one just deleted. So every timed phase
// starts after a sync and a pause (-storage-settle) that lets the host
// take back what the previous phase freed, and lets the new guest's
// firmware finish booting; and the order of the daemons alternates over
// -rounds rounds, the median of each being reported.
func benchStorageSuite(sock string, haveLibvirtd bool) error {
	targets := map[string]string{"govirtd": "qemu+unix:///system?socket=" + sock}
	order := []string{"govirtd"}
	if haveLibvirtd {
		targets["libvirtd"] = "qemu+unix:///system?socket=" + *libvirtdSock
		order = append(order, "libvirtd")
	}
	fmt.Printf("storage: 1 GiB vol-upload and 1 GiB blockcopy (raw, running guest), median of %d alternating rounds, %v settle\n",
		*rounds, *storageSettle)
	fmt.Printf("%-10s %5s %14s %14s\n", "", "round", "vol-upload", "blockcopy")
	samples := map[string][2][]time.Duration{}
	for r := 0; r < *rounds; r++ {
		for i := range order {
			name := order[i]
			if r%2 == 1 {
				name = order[len(order)-1-i]
			}
			up, cp, err := storageRun(targets[name], name)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			s := samples[name]
			s[0], s[1] = append(s[0], up), append(s[1], cp)
			samples[name] = s
			fmt.Printf("%-10s %5d %14v %14v\n", name, r+1, up.Round(time.Millisecond), cp.Round(time.Millisecond))
		}
	}
	res := map[string][2]time.Duration{}
	for _, name := range order {
		s := samples[name]
		res[name] = [2]time.Duration{medianDur(s[0]), medianDur(s[1])}
		fmt.Printf("%-10s %5s %14v %14v\n", name, "med", res[name][0].Round(time.Millisecond), res[name][1].Round(time.Millisecond))
	}
	if l, ok := res["libvirtd"]; ok {
		g := res["govirtd"]
		fmt.Printf("govirtd/libvirtd: vol-upload %.2fx, blockcopy %.2fx (time; lower is better)\n", ratio(g[0], l[0]), ratio(g[1], l[1]))
	}
	return nil
}

// settle starts a timed phase on a quiet machine: nothing left to write
// back, and the memory freed before handed back to the host.
func settle() {
	syscall.Sync()
	time.Sleep(*storageSettle)
	syscall.Sync()
}

func storageRun(uri, tag string) (upload, blockcopy time.Duration, err error) {
	c, err := client.Dial(uri)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "gvstor")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	poolXML := fmt.Sprintf("<pool type='dir'><name>bench-%s</name><target><path>%s</path></target></pool>", tag, dir)
	var pool remote.StoragePoolCreateXMLRet
	if err := c.Call(ctx, procs.StoragePoolCreateXML, remote.StoragePoolCreateXMLArgs{XML: poolXML}, &pool); err != nil {
		return 0, 0, err
	}
	defer c.Call(ctx, procs.StoragePoolDestroy, remote.StoragePoolDestroyArgs{Pool: pool.Pool}, nil)
	volXML := fmt.Sprintf("<volume><name>disk.raw</name><capacity>%d</capacity><target><format type='raw'/></target></volume>", storageBytes)
	var vol remote.StorageVolCreateXMLRet
	if err := c.Call(ctx, procs.StorageVolCreateXML, remote.StorageVolCreateXMLArgs{Pool: pool.Pool, XML: volXML}, &vol); err != nil {
		return 0, 0, err
	}

	// Upload 1 GiB of incompressible data.
	buf := make([]byte, 256<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	// Each phase starts with no dirty pages left from the one before, so
	// neither daemon pays for the other's writeback.
	settle()
	t0 := time.Now()
	st, err := c.CallStream(ctx, procs.StorageVolUpload, remote.StorageVolUploadArgs{Vol: vol.Vol, Length: storageBytes}, nil)
	if err != nil {
		return 0, 0, err
	}
	for sent := 0; sent < storageBytes; sent += len(buf) {
		for i := 0; i+8 <= len(buf); i += 8 {
			v := rng.Uint64()
			for k := 0; k < 8; k++ {
				buf[i+k] = byte(v >> (8 * k))
			}
		}
		if _, err := st.Write(buf); err != nil {
			return 0, 0, err
		}
	}
	if err := st.Finish(); err != nil {
		return 0, 0, err
	}
	upload = time.Since(t0)

	// A transient guest on that disk, copied to a new file in the pool dir.
	src := filepath.Join(dir, "disk.raw")
	dst := filepath.Join(dir, "copy.raw")
	typ := "qemu"
	if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err == nil {
		f.Close()
		typ = "kvm"
	}
	domXML := fmt.Sprintf(`<domain type='%s'><name>bench-copy-%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='q35'>hvm</type></os>
<devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/><target dev='vda' bus='virtio'/></disk></devices></domain>`, typ, tag, src)
	var dom remote.DomainCreateXMLRet
	if err := c.Call(ctx, procs.DomainCreateXML, remote.DomainCreateXMLArgs{XMLDesc: domXML}, &dom); err != nil {
		return upload, 0, err
	}
	defer c.Call(ctx, procs.DomainDestroy, remote.DomainDestroyArgs{Dom: dom.Dom}, nil)
	dest := fmt.Sprintf("<disk type='file'><driver type='raw'/><source file='%s'/></disk>", dst)
	settle()
	t0 = time.Now()
	if err := c.Call(ctx, procs.DomainBlockCopy, remote.DomainBlockCopyArgs{Dom: dom.Dom, Path: "vda", Destxml: dest}, nil); err != nil {
		return upload, 0, err
	}
	for {
		var info remote.DomainGetBlockJobInfoRet
		if err := c.Call(ctx, procs.DomainGetBlockJobInfo, remote.DomainGetBlockJobInfoArgs{Dom: dom.Dom, Path: "vda"}, &info); err != nil {
			return upload, 0, err
		}
		if info.Found == 1 && info.End > 0 && info.Cur == info.End {
			break
		}
		if time.Since(t0) > 10*time.Minute {
			return upload, 0, fmt.Errorf("blockcopy did not become ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	blockcopy = time.Since(t0)
	c.Call(ctx, procs.DomainBlockJobAbort, remote.DomainBlockJobAbortArgs{Dom: dom.Dom, Path: "vda"}, nil)
	return upload, blockcopy, nil
}

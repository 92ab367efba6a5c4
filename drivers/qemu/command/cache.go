package command

// cacheMode is what a disk's cache= becomes: the block nodes' direct and
// no-flush settings and the device's write cache, as libvirt maps them.
type cacheMode struct {
	direct, noFlush, writeCache bool
}

var cacheModes = map[string]*cacheMode{
	"":             nil, // QEMU's default
	"none":         {direct: true, writeCache: true},
	"writeback":    {writeCache: true},
	"writethrough": {},
	"directsync":   {direct: true},
	"unsafe":       {noFlush: true, writeCache: true},
}

// withCache adds the "cache" member of a -blockdev node.
func withCache(o obj, mode string) obj {
	c := cacheModes[mode]
	if c == nil {
		return o
	}
	return o.set("cache", obj{}.set("direct", c.direct).set("no-flush", c.noFlush))
}

// writeCacheProp is the disk device's write-cache property, "" to leave it.
func writeCacheProp(mode string) string {
	c := cacheModes[mode]
	if c == nil {
		return ""
	}
	if c.writeCache {
		return "on"
	}
	return "off"
}

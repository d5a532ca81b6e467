package tiles

import (
	"container/list"
	"sync"
)

// Tile is a rendered tile (or indicator document), gzipped, with the data version it
// was made from.
type Tile struct {
	Gzip    []byte // empty for an empty tile
	Raw     int    // uncompressed size
	ETag    string // strong: quoted, changes with the version
	Version string
}

// cache is an LRU bounded by the bytes it holds. Entries carry their version: an entry
// whose version is not the current one is a miss, so a data change needs no purge.
type cache struct {
	mu    sync.Mutex
	max   int64
	size  int64
	ll    *list.List
	items map[string]*list.Element

	flight map[string]*call // renders in progress, so a cold burst renders a tile once
}

type cacheEntry struct {
	key  string
	tile *Tile
}

type call struct {
	done chan struct{}
	tile *Tile
	err  error
}

func newCache(maxBytes int64) *cache {
	return &cache{max: maxBytes, ll: list.New(), items: map[string]*list.Element{}, flight: map[string]*call{}}
}

func entrySize(key string, t *Tile) int64 {
	return int64(len(key) + len(t.Gzip) + len(t.ETag) + len(t.Version) + 96)
}

func (c *cache) get(key, version string) (*Tile, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if e.tile.Version != version {
		return nil, false
	}
	c.ll.MoveToFront(el)
	return e.tile, true
}

func (c *cache) put(key string, t *Tile) {
	n := entrySize(key, t)
	if n > c.max/8 { // one huge entry must not flush the whole cache
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		old := el.Value.(*cacheEntry)
		c.size += n - entrySize(key, old.tile)
		old.tile = t
		c.ll.MoveToFront(el)
	} else {
		c.items[key] = c.ll.PushFront(&cacheEntry{key: key, tile: t})
		c.size += n
	}
	for c.size > c.max {
		el := c.ll.Back()
		e := el.Value.(*cacheEntry)
		c.ll.Remove(el)
		delete(c.items, e.key)
		c.size -= entrySize(e.key, e.tile)
	}
}

// do returns the cached tile for key at version, or makes it once however many
// requests ask for it at the same time.
func (c *cache) do(key, version string, fn func() (*Tile, error)) (*Tile, error) {
	if t, ok := c.get(key, version); ok {
		return t, nil
	}
	fk := key + "@" + version
	c.mu.Lock()
	if cl, ok := c.flight[fk]; ok {
		c.mu.Unlock()
		<-cl.done
		return cl.tile, cl.err
	}
	cl := &call{done: make(chan struct{})}
	c.flight[fk] = cl
	c.mu.Unlock()
	cl.tile, cl.err = fn()
	if cl.err == nil {
		c.put(key, cl.tile)
	}
	c.mu.Lock()
	delete(c.flight, fk)
	c.mu.Unlock()
	close(cl.done)
	return cl.tile, cl.err
}

// stats returns the entries and bytes held.
func (c *cache) stats() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items), c.size
}

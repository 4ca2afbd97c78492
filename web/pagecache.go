package web

import "sync"

// pageCache keeps rendered pages by their whole template input: K is the
// value the template executes with, so a hit is byte for byte what
// rendering would give, whatever the template reads. K must be a plain
// value (no pointer, slice or map field, which would compare identities
// rather than contents).
//
// It holds at most two generations of perGen pages: when the newer one is
// full, the older one is dropped and the newer one takes its place. That
// approximates least-recently-used without bookkeeping on a hit: a page
// found in the older generation moves to the newer one.
type pageCache[K comparable] struct {
	mu       sync.RWMutex
	cur, old map[K][]byte
	perGen   int
}

func newPageCache[K comparable](perGen int) *pageCache[K] {
	return &pageCache[K]{cur: make(map[K][]byte), old: make(map[K][]byte), perGen: max(perGen, 1)}
}

// get returns the page kept for k. The caller must not modify it.
func (c *pageCache[K]) get(k K) ([]byte, bool) {
	c.mu.RLock()
	b, ok := c.cur[k]
	if ok {
		c.mu.RUnlock()
		return b, true
	}
	b, ok = c.old[k]
	c.mu.RUnlock()
	if ok {
		c.put(k, b)
	}
	return b, ok
}

// put keeps b as the page for k; b must not change afterwards.
func (c *pageCache[K]) put(k K, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cur[k]; !ok && len(c.cur) >= c.perGen {
		c.old, c.cur = c.cur, make(map[K][]byte, c.perGen)
	}
	c.cur[k] = b
}

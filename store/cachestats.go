package store

import (
	"sort"
	"sync"
	"sync/atomic"
)

// Hit and miss counts of named caches, for the metrics endpoint. They are
// per process and per name: several caches (of several servers in one test
// process) with the same name add up.

// cacheCounter counts one name's lookups.
type cacheCounter struct{ hits, misses atomic.Uint64 }

// cacheCounters maps a cache name to its *cacheCounter.
var cacheCounters sync.Map

// Named gives the cache a name under which Get counts its hits and misses
// (EachCacheStat); unnamed caches count nothing. Call it once, right after
// NewCache, before the cache is shared.
func (c *Cache[K, V]) Named(name string) *Cache[K, V] {
	v, _ := cacheCounters.LoadOrStore(name, new(cacheCounter))
	c.stats = v.(*cacheCounter)
	return c
}

func (s *cacheCounter) hit() {
	if s != nil {
		s.hits.Add(1)
	}
}

func (s *cacheCounter) miss() {
	if s != nil {
		s.misses.Add(1)
	}
}

// EachCacheStat calls fn with each named cache's lookups so far, by name.
func EachCacheStat(fn func(name string, hits, misses uint64)) {
	type stat struct {
		name string
		c    *cacheCounter
	}
	var all []stat
	cacheCounters.Range(func(k, v any) bool {
		all = append(all, stat{k.(string), v.(*cacheCounter)})
		return true
	})
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
	for _, s := range all {
		fn(s.name, s.c.hits.Load(), s.c.misses.Load())
	}
}

package metrics

import "github.com/prometheus/client_golang/prometheus"

// cacheCollector reads the read caches' hit and miss counts at scrape time
// (store.EachCacheStat): the caches count with two atomic adds and know
// nothing of Prometheus.
type cacheCollector struct {
	each func(fn func(name string, hits, misses uint64))
	desc *prometheus.Desc
}

// CacheCollector exports the lookups of named read caches as
// authgraph_cache_lookups_total{cache, result="hit"|"miss"}; each calls
// its function with every cache's counts (store.EachCacheStat).
func CacheCollector(each func(fn func(name string, hits, misses uint64))) prometheus.Collector {
	return &cacheCollector{each: each, desc: prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "cache", "lookups_total"),
		"Read cache lookups, by cache and result (hit, miss): the hit ratio is hit / (hit + miss).",
		[]string{"cache", "result"}, nil)}
}

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	c.each(func(name string, hits, misses uint64) {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(hits), name, "hit")
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(misses), name, "miss")
	})
}

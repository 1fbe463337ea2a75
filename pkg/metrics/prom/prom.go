// Package prom is the Prometheus sink of package metrics, for the local
// runner's METRICS_ADDR listener. It is a package of its own so that the
// Lambda functions, which write EMF instead, do not link client_golang.
package prom

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"authfn/pkg/metrics"
)

// Sink registers every metric of metrics.Defs on a registry and hands out
// its children.
type Sink struct {
	counters   map[string]*prometheus.CounterVec
	histograms map[string]*prometheus.HistogramVec
	gauges     map[string]*prometheus.GaugeVec
}

// NewSink registers every metric on reg. It fails only if reg already
// holds one of the names.
func NewSink(reg prometheus.Registerer) (*Sink, error) {
	s := &Sink{
		counters:   map[string]*prometheus.CounterVec{},
		histograms: map[string]*prometheus.HistogramVec{},
		gauges:     map[string]*prometheus.GaugeVec{},
	}
	for _, d := range metrics.Defs() {
		var c prometheus.Collector
		switch d.Kind {
		case metrics.Counter:
			v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: d.Name, Help: d.Help}, d.Labels)
			s.counters[d.Name], c = v, v
		case metrics.Histogram:
			v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: d.Name, Help: d.Help, Buckets: d.Buckets}, d.Labels)
			s.histograms[d.Name], c = v, v
		case metrics.Gauge:
			v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: d.Name, Help: d.Help}, d.Labels)
			s.gauges[d.Name], c = v, v
		}
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Counter implements metrics.Sink.
func (s *Sink) Counter(d metrics.Def, labelValues ...string) metrics.CounterChild {
	return s.counters[d.Name].WithLabelValues(labelValues...)
}

// Histogram implements metrics.Sink.
func (s *Sink) Histogram(d metrics.Def, labelValues ...string) metrics.ObserverChild {
	return s.histograms[d.Name].WithLabelValues(labelValues...)
}

// Gauge implements metrics.Sink.
func (s *Sink) Gauge(d metrics.Def, labelValues ...string) metrics.GaugeChild {
	return s.gauges[d.Name].WithLabelValues(labelValues...)
}

// New returns a registry holding the service's metrics and the Go
// runtime's and process's (go_*, process_*), the Metrics recording into
// it, and the handler that serves it in the Prometheus text format.
func New() (*metrics.Metrics, http.Handler, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s, err := NewSink(reg)
	if err != nil {
		return nil, nil, err
	}
	return metrics.New(s), promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), nil
}

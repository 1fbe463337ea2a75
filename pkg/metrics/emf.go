package metrics

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every metric.
const Namespace = "authfn"

// EMF limits (CloudWatch Embedded Metric Format specification): a metric
// target holds at most 100 values, a directive at most 100 metrics.
const (
	emfMaxValues  = 100
	emfMaxMetrics = 100
)

// EMF is the Lambda sink: it holds what one invocation recorded and
// Flush writes it as CloudWatch Embedded Metric Format JSON lines, which
// CloudWatch Logs turns into metrics with no network call from the
// function. Counters are the invocation's increments, histograms the
// values observed (CloudWatch computes percentiles from them), gauges the
// last value set; a series the invocation did not touch is not written.
//
// Dimensions are root members of an EMF document, one value each, so two
// series of one label (store "postgres" and "redis") cannot share a line:
// Flush packs the series into as few lines as allows, usually one or two.
type EMF struct {
	w   io.Writer
	now func() time.Time

	mu      sync.Mutex
	series  map[string]*emfSeries // by name and label values
	touched []*emfSeries          // since the last flush, in first-touch order
}

// NewEMF returns an EMF sink writing to w (stdout in Lambda, which
// CloudWatch Logs collects). now stamps each line; nil means time.Now.
func NewEMF(w io.Writer, now func() time.Time) *EMF {
	if now == nil {
		now = time.Now
	}
	return &EMF{w: w, now: now, series: map[string]*emfSeries{}}
}

type emfSeries struct {
	e       *EMF
	def     Def
	labels  []string // values, in def.Labels' order
	touched bool
	sum     float64   // counter: increments; gauge: the last value
	values  []float64 // histogram
}

func (e *EMF) get(d Def, labelValues []string) *emfSeries {
	key := d.Name + "\xff" + strings.Join(labelValues, "\xff")
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.series[key]
	if !ok {
		s = &emfSeries{e: e, def: d, labels: slices.Clone(labelValues)}
		e.series[key] = s
	}
	return s
}

// Counter implements Sink.
func (e *EMF) Counter(d Def, labelValues ...string) CounterChild { return e.get(d, labelValues) }

// Histogram implements Sink.
func (e *EMF) Histogram(d Def, labelValues ...string) ObserverChild { return e.get(d, labelValues) }

// Gauge implements Sink.
func (e *EMF) Gauge(d Def, labelValues ...string) GaugeChild { return e.get(d, labelValues) }

func (s *emfSeries) touch() {
	if !s.touched {
		s.touched = true
		s.e.touched = append(s.e.touched, s)
	}
}

func (s *emfSeries) Add(v float64) {
	s.e.mu.Lock()
	s.sum += v
	s.touch()
	s.e.mu.Unlock()
}

func (s *emfSeries) Set(v float64) {
	s.e.mu.Lock()
	s.sum = v
	s.touch()
	s.e.mu.Unlock()
}

func (s *emfSeries) Observe(v float64) {
	s.e.mu.Lock()
	s.values = append(s.values, v)
	s.touch()
	s.e.mu.Unlock()
}

// emfItem is one metric value bound for a line: a series, or up to 100
// values of a histogram's.
type emfItem struct {
	def    Def
	labels []string
	value  any // float64, or []float64
}

// Flush writes what was recorded since the last Flush and forgets it.
// A write error is dropped: metrics must never fail an invocation.
func (e *EMF) Flush() {
	e.mu.Lock()
	var items []emfItem
	for _, s := range e.touched {
		switch s.def.Kind {
		case Histogram:
			for vs := range slices.Chunk(s.values, emfMaxValues) {
				items = append(items, emfItem{def: s.def, labels: s.labels, value: vs})
			}
			s.values = nil
		default:
			items = append(items, emfItem{def: s.def, labels: s.labels, value: s.sum})
		}
		if s.def.Kind == Counter {
			s.sum = 0
		}
		s.touched = false
	}
	e.touched = nil
	e.mu.Unlock()
	if len(items) == 0 {
		return
	}
	ts := e.now().UnixMilli()
	var buf bytes.Buffer
	for _, l := range packEMF(items) {
		b, err := json.Marshal(l.document(ts))
		if err != nil {
			continue
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	_, _ = e.w.Write(buf.Bytes())
}

// emfLine is one EMF document under construction.
type emfLine struct {
	dims    map[string]string // dimension name → value, on the root
	names   map[string]bool   // metric names taken
	items   []emfItem
	metrics int
}

// fits says whether it can join l: no metric name twice, no dimension
// with two values, and room in the directive.
func (l *emfLine) fits(it emfItem) bool {
	if l.names[it.def.Name] || l.metrics >= emfMaxMetrics {
		return false
	}
	for i, name := range it.def.Labels {
		if v, ok := l.dims[name]; ok && v != it.labels[i] {
			return false
		}
	}
	return true
}

func (l *emfLine) add(it emfItem) {
	for i, name := range it.def.Labels {
		l.dims[name] = it.labels[i]
	}
	l.names[it.def.Name] = true
	l.items = append(l.items, it)
	l.metrics++
}

// packEMF puts each item into the first line it fits, first fit in order.
func packEMF(items []emfItem) []*emfLine {
	var lines []*emfLine
	for _, it := range items {
		var line *emfLine
		for _, l := range lines {
			if l.fits(it) {
				line = l
				break
			}
		}
		if line == nil {
			line = &emfLine{dims: map[string]string{}, names: map[string]bool{}}
			lines = append(lines, line)
		}
		line.add(it)
	}
	return lines
}

type emfDirective struct {
	Namespace  string          `json:"Namespace"`
	Dimensions [][]string      `json:"Dimensions"`
	Metrics    []emfDefinition `json:"Metrics"`
}

type emfDefinition struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// document is l as an EMF root object: one directive per set of
// dimensions, then the dimension values and metric values on the root.
func (l *emfLine) document(ts int64) map[string]any {
	var directives []*emfDirective
	byDims := map[string]*emfDirective{}
	root := map[string]any{}
	for _, it := range l.items {
		key := strings.Join(it.def.Labels, "\xff")
		d, ok := byDims[key]
		if !ok {
			d = &emfDirective{Namespace: Namespace, Dimensions: [][]string{slices.Clone(it.def.Labels)}}
			if d.Dimensions[0] == nil {
				d.Dimensions[0] = []string{} // a metric without labels: one empty dimension set
			}
			byDims[key] = d
			directives = append(directives, d)
		}
		d.Metrics = append(d.Metrics, emfDefinition{Name: it.def.Name, Unit: it.def.Unit})
		root[it.def.Name] = it.value
	}
	for name, v := range l.dims {
		root[name] = v
	}
	root["_aws"] = map[string]any{"Timestamp": ts, "CloudWatchMetrics": directives}
	return root
}

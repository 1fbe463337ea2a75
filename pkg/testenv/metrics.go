package testenv

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"authfn/pkg/metrics"
	"authfn/pkg/metrics/prom"
)

// Scrape is one parse of a Prometheus text exposition, by metric name.
type Scrape map[string]*dto.MetricFamily

// ScrapeMetrics GETs url (a runner's /metrics) and parses the body with
// Prometheus's own text parser, failing t on any other answer than 200
// or on a body the parser refuses.
func ScrapeMetrics(t testing.TB, url string) Scrape {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: status %d, want 200", url, resp.StatusCode)
	}
	return ParseMetrics(t, resp.Body)
}

// ParseMetrics parses a Prometheus text exposition.
func ParseMetrics(t testing.TB, r io.Reader) Scrape {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	return fams
}

// series returns the series of name whose labels include every pair of
// labels (name, value, name, value ...), or nil.
func (s Scrape) series(name string, labels ...string) *dto.Metric {
	f, ok := s[name]
	if !ok {
		return nil
	}
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				match = false
				break
			}
		}
		if match {
			return m
		}
	}
	return nil
}

// Value returns the value of a counter or gauge series (labels are name,
// value pairs), and 0 when there is no such series.
func (s Scrape) Value(name string, labels ...string) float64 {
	m := s.series(name, labels...)
	switch {
	case m == nil:
		return 0
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return math.NaN()
}

// Has says whether the series exists.
func (s Scrape) Has(name string, labels ...string) bool { return s.series(name, labels...) != nil }

// HistogramCount returns the sample count of a histogram series, and 0
// when there is no such series.
func (s Scrape) HistogramCount(name string, labels ...string) uint64 {
	m := s.series(name, labels...)
	if m == nil || m.Histogram == nil {
		return 0
	}
	return m.Histogram.GetSampleCount()
}

// EMFPoint is one metric value read from a CloudWatch Embedded Metric
// Format line: its name, unit, dimensions and values (one for a counter or
// gauge, the observations for a histogram).
type EMFPoint struct {
	Name   string
	Unit   string
	Dims   map[string]string
	Values []float64
}

// emfUnits are the units CloudWatch accepts (MetricDatum).
var emfUnits = regexp.MustCompile(`^(Seconds|Microseconds|Milliseconds|Bytes|Kilobytes|Megabytes|Gigabytes|Terabytes|` +
	`Bits|Kilobits|Megabits|Gigabits|Terabits|Percent|Count|Bytes/Second|Kilobytes/Second|Megabytes/Second|` +
	`Gigabytes/Second|Terabytes/Second|Bits/Second|Kilobits/Second|Megabits/Second|Gigabits/Second|Terabits/Second|` +
	`Count/Second|None)$`)

// ParseEMF reads the EMF documents among the lines of out (other lines,
// a log, are skipped) and checks each against the EMF specification: a
// root object whose _aws member has an integer Timestamp and a non-empty
// CloudWatchMetrics array; each directive with a Namespace, at least one
// dimension set of at most 30 names that are all string members of the
// root, and at most 100 metrics, each naming a root member that is a
// number or an array of at most 100 numbers, with a valid unit; and no
// metric named twice in one document. It fails t on the first breach.
func ParseEMF(t testing.TB, out []byte) []EMFPoint {
	t.Helper()
	var points []EMFPoint
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		var root map[string]json.RawMessage
		if json.Unmarshal(sc.Bytes(), &root) != nil || root["_aws"] == nil {
			continue
		}
		ps, err := parseEMFDocument(root)
		if err != nil {
			t.Fatalf("EMF line %d: %v\n%s", n, err, sc.Bytes())
		}
		points = append(points, ps...)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return points
}

func parseEMFDocument(root map[string]json.RawMessage) ([]EMFPoint, error) {
	var meta struct {
		Timestamp         *json.Number `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  *string    `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct {
				Name *string `json:"Name"`
				Unit *string `json:"Unit"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	}
	dec := json.NewDecoder(bytes.NewReader(root["_aws"]))
	dec.UseNumber()
	if err := dec.Decode(&meta); err != nil {
		return nil, fmt.Errorf("_aws: %v", err)
	}
	if meta.Timestamp == nil {
		return nil, fmt.Errorf("_aws.Timestamp missing")
	}
	if _, err := meta.Timestamp.Int64(); err != nil {
		return nil, fmt.Errorf("_aws.Timestamp %s is not an integer of milliseconds", meta.Timestamp)
	}
	if len(meta.CloudWatchMetrics) == 0 {
		return nil, fmt.Errorf("_aws.CloudWatchMetrics is empty")
	}
	var points []EMFPoint
	seen := map[string]bool{}
	for i, d := range meta.CloudWatchMetrics {
		if d.Namespace == nil || *d.Namespace == "" || len(*d.Namespace) > 255 {
			return nil, fmt.Errorf("directive %d: Namespace missing or not 1-255 characters", i)
		}
		if len(d.Dimensions) == 0 {
			return nil, fmt.Errorf("directive %d: no dimension set", i)
		}
		if len(d.Metrics) == 0 || len(d.Metrics) > 100 {
			return nil, fmt.Errorf("directive %d: %d metrics, want 1-100", i, len(d.Metrics))
		}
		dims := map[string]string{}
		for _, set := range d.Dimensions {
			if len(set) > 30 {
				return nil, fmt.Errorf("directive %d: a dimension set of %d, want at most 30", i, len(set))
			}
			for _, name := range set {
				var v string
				if err := json.Unmarshal(root[name], &v); err != nil {
					return nil, fmt.Errorf("directive %d: dimension %q is not a string member of the root", i, name)
				}
				dims[name] = v
			}
		}
		for _, m := range d.Metrics {
			if m.Name == nil || *m.Name == "" {
				return nil, fmt.Errorf("directive %d: a metric without a name", i)
			}
			name := *m.Name
			if seen[name] {
				return nil, fmt.Errorf("metric %s twice in one document", name)
			}
			seen[name] = true
			if m.Unit == nil || !emfUnits.MatchString(*m.Unit) {
				return nil, fmt.Errorf("metric %s: unit %v is not a CloudWatch unit", name, m.Unit)
			}
			values, err := emfValues(root[name])
			if err != nil {
				return nil, fmt.Errorf("metric %s: %v", name, err)
			}
			points = append(points, EMFPoint{Name: name, Unit: *m.Unit, Dims: maps.Clone(dims), Values: values})
		}
	}
	return points, nil
}

func emfValues(raw json.RawMessage) ([]float64, error) {
	if raw == nil {
		return nil, fmt.Errorf("no such member on the root")
	}
	var one float64
	if err := json.Unmarshal(raw, &one); err == nil {
		return []float64{one}, nil
	}
	var many []float64
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, fmt.Errorf("value %s is neither a number nor an array of numbers", raw)
	}
	if len(many) == 0 || len(many) > 100 {
		return nil, fmt.Errorf("an array of %d values, want 1-100", len(many))
	}
	return many, nil
}

// EMFSum adds up the values of the points named name whose dimensions
// include every pair of dims (name, value, ...): a counter's total.
func EMFSum(points []EMFPoint, name string, dims ...string) float64 {
	var sum float64
	for _, p := range emfMatching(points, name, dims) {
		for _, v := range p.Values {
			sum += v
		}
	}
	return sum
}

// EMFCount counts the values of the matching points: a histogram's
// observations.
func EMFCount(points []EMFPoint, name string, dims ...string) int {
	n := 0
	for _, p := range emfMatching(points, name, dims) {
		n += len(p.Values)
	}
	return n
}

// EMFNames returns the metric names among points, sorted.
func EMFNames(points []EMFPoint) []string {
	set := map[string]bool{}
	for _, p := range points {
		set[p.Name] = true
	}
	return slices.Sorted(maps.Keys(set))
}

func emfMatching(points []EMFPoint, name string, dims []string) []EMFPoint {
	var out []EMFPoint
	for _, p := range points {
		if p.Name != name {
			continue
		}
		match := true
		for i := 0; i+1 < len(dims); i += 2 {
			if p.Dims[dims[i]] != dims[i+1] {
				match = false
				break
			}
		}
		if match {
			out = append(out, p)
		}
	}
	return out
}

// NewMetrics returns metrics recording into a Prometheus registry of
// their own, and a function that scrapes it as the runner's /metrics
// would be.
func NewMetrics(t testing.TB) (*metrics.Metrics, func() Scrape) {
	t.Helper()
	m, h, err := prom.New()
	if err != nil {
		t.Fatal(err)
	}
	return m, func() Scrape {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("/metrics: status %d", rec.Code)
		}
		return ParseMetrics(t, rec.Body)
	}
}

package testkit

import (
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// MetricSample is the value of family name's sample whose labels hold
// every pair of labels (name, value, ...); ok is false when there is none.
func MetricSample(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// Metric is MetricSample's value, failing the test when there is none.
func Metric(t testing.TB, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	v, ok := MetricSample(fams, name, labels...)
	if !ok {
		t.Fatalf("no sample %s%v in /metrics", name, labels)
	}
	return v
}

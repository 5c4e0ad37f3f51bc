package feed

import (
	"testing"

	"opm/daemon/api"
)

func TestReplayAndLost(t *testing.T) {
	b := New(4)
	for range 3 {
		b.Publish(api.Event{Type: api.EventTypeStart})
	}
	s := b.Subscribe(1)
	defer s.Close()
	select {
	case <-s.C():
	default:
		t.Fatal("a subscriber behind the latest event is not woken")
	}
	got := s.Read()
	if len(got) != 2 || got[0].Seq != 2 || got[1].Seq != 3 {
		t.Fatalf("replay after 1: %+v", got)
	}
	if s.Read() != nil {
		t.Fatal("read twice")
	}
	for range 10 {
		b.Publish(api.Event{Type: api.EventTypeExit})
	}
	got = s.Read()
	if len(got) != 5 || got[0].Type != api.EventTypeLost || got[0].Seq != 9 || got[1].Seq != 10 || got[4].Seq != 13 {
		t.Fatalf("slow reader: %+v", got)
	}
	if got[0].Detail == "" {
		t.Fatal("lost event without a count")
	}
}

func TestSubscribeBeyondLatest(t *testing.T) {
	b := New(8)
	b.Publish(api.Event{Type: api.EventTypeStart})
	s := b.Subscribe(100) // an id of an earlier daemon
	defer s.Close()
	if got := s.Read(); len(got) != 1 || got[0].Seq != 1 {
		t.Fatalf("got %+v", got)
	}
}

func TestNilBus(t *testing.T) {
	var b *Bus
	b.Publish(api.Event{Type: api.EventTypeStart})
}

func BenchmarkPublishNobodyListens(b *testing.B) {
	bus := New(0)
	for range b.N {
		bus.Publish(api.Event{Type: api.EventTypeStart, App: "web", PID: 42})
	}
}

package feed

import (
	"strconv"
	"sync"
	"time"

	"opm/daemon/api"
)

// RingSize is how many recent events the bus keeps for late readers.
const RingSize = 512

// Bus holds the latest events and wakes their subscribers. The zero
// value is not usable; use New. A nil *Bus drops what is published.
type Bus struct {
	mu   sync.Mutex
	ring []api.Event
	last uint64 // the Seq of the latest event; 0 before the first
	subs map[*Sub]struct{}
	now  func() time.Time
}

// New returns an empty bus keeping size events (RingSize when size <= 0).
func New(size int) *Bus {
	if size <= 0 {
		size = RingSize
	}
	return &Bus{ring: make([]api.Event, size), subs: map[*Sub]struct{}{}, now: time.Now}
}

// Publish numbers ev, stamps it with the time (unless it has one) and
// keeps it; it never blocks. It returns the event as kept.
func (b *Bus) Publish(ev api.Event) api.Event {
	if b == nil {
		return ev
	}
	if ev.Time.IsZero() {
		ev.Time = b.now()
	}
	b.mu.Lock()
	b.last++
	ev.Seq = b.last
	b.ring[ev.Seq%uint64(len(b.ring))] = ev
	for s := range b.subs {
		select {
		case s.c <- struct{}{}:
		default: // already woken
		}
	}
	b.mu.Unlock()
	return ev
}

// Last is the Seq of the latest event (0: none yet).
func (b *Bus) Last() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

// Sub is a subscription: C is signalled when events come after the
// subscriber's cursor.
type Sub struct {
	b      *Bus
	c      chan struct{}
	cursor uint64
}

// Subscribe starts a subscription that reads the events after seq
// (those the ring still holds first). A seq beyond the latest event
// (from a daemon before this one) reads from the oldest event held.
func (b *Bus) Subscribe(after uint64) *Sub {
	s := &Sub{b: b, c: make(chan struct{}, 1), cursor: after}
	b.mu.Lock()
	if after > b.last {
		s.cursor = 0
	}
	b.subs[s] = struct{}{}
	if b.last > s.cursor {
		s.c <- struct{}{}
	}
	b.mu.Unlock()
	return s
}

// C is signalled when there may be events to Read.
func (s *Sub) C() <-chan struct{} { return s.c }

// Close ends the subscription.
func (s *Sub) Close() {
	s.b.mu.Lock()
	delete(s.b.subs, s)
	s.b.mu.Unlock()
}

// Read returns the events after the subscriber's cursor and moves it
// past them. When some were overwritten before they were read, the
// first event returned is of type api.EventTypeLost, with their number
// in Detail and the Seq of the last one lost.
func (s *Sub) Read() []api.Event {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last <= s.cursor {
		return nil
	}
	n := uint64(len(b.ring))
	first := s.cursor + 1
	var out []api.Event
	if b.last-s.cursor > n {
		oldest := b.last - n + 1
		lost := oldest - first
		out = append(out, api.Event{Seq: oldest - 1, Time: b.now(), Type: api.EventTypeLost,
			Detail: strconv.FormatUint(lost, 10) + " events were dropped before this reader read them"})
		first = oldest
	}
	for q := first; q <= b.last; q++ {
		out = append(out, b.ring[q%n])
	}
	s.cursor = b.last
	return out
}

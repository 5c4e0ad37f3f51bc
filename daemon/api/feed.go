package api

import "time"

// PathEvents is the live event stream (GET, text/event-stream): each
// event is written as
//
//	id: <Seq>
//	event: <Type>
//	data: <Event as JSON>
//
// followed by a blank line. A Last-Event-ID header (or the query
// parameter SinceParam) replays the events after that sequence number
// that the daemon's small in-memory ring still holds. While nothing
// happens nothing is sent: an open stream costs the daemon no wake-up.
const PathEvents = "/v1/events"

// SinceParam names the sequence number after which PathEvents replays
// (the same as a Last-Event-ID header).
const SinceParam = "since"

// LastEventIDHeader is the header of server-sent events with which a
// client that reconnects says the last event it saw.
const LastEventIDHeader = "Last-Event-ID"

// The types of Event.
const (
	EventTypeStart        = "start"         // a process started
	EventTypeExit         = "exit"          // a process ended (Code or Signal)
	EventTypeRestart      = "restart"       // a restart is under way (Reason)
	EventTypeErrored      = "errored"       // the app gave up: restart limit or exit code
	EventTypeStop         = "stop"          // a process was stopped on request
	EventTypeRestoreBegin = "restore-begin" // a restore from the dump starts (Detail: counts)
	EventTypeRestoreEnd   = "restore-end"   // a restore ended (Detail: counts)
	EventTypeMemoryLimit  = "memory-limit"  // a process went over its memory limit
	EventTypeWatchRestart = "watch-restart" // a watched file changed; the app restarts
	// EventTypeLost is sent to a subscriber that fell behind: Detail says
	// how many events it missed (they are gone from the ring too, or were
	// dropped for it alone).
	EventTypeLost = "lost"
)

// EventTypes lists every type a subscriber or a hook may name, in order.
var EventTypes = []string{
	EventTypeStart, EventTypeExit, EventTypeRestart, EventTypeErrored,
	EventTypeStop, EventTypeRestoreBegin, EventTypeRestoreEnd,
	EventTypeMemoryLimit, EventTypeWatchRestart,
}

// Reasons of an EventTypeRestart.
const (
	ReasonCrash  = "crash"
	ReasonCron   = "cron"
	ReasonWatch  = "watch"
	ReasonMemory = "memory"
	ReasonReload = "reload"
	ReasonUser   = "user"
)

// Event is one thing that happened to an app or the daemon, as
// GET PathEvents streams it and hooks receive it.
type Event struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Type string    `json:"type"`
	App  string    `json:"app,omitempty"` // label: name, or name:i for an instance
	Name string    `json:"name,omitempty"`
	// Instance and ID are the app's; an event of the daemon's own
	// (restore-begin, restore-end, lost) has no App, and they mean
	// nothing there.
	Instance int    `json:"instance"`
	ID       int    `json:"id"`
	PID      int    `json:"pid,omitempty"`
	Code     *int   `json:"code,omitempty"`
	Signal   string `json:"signal,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Restarts int    `json:"restarts,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// Package feed is the daemon's event bus: the supervisor publishes
// api.Event values (a process started, exited, restarted...) and the
// subscribers of GET /v1/events read them.
//
// Publishing never blocks and costs a copy into a fixed ring in RAM
// (RingSize events) plus a non-blocking wake-up of each subscriber; with
// nobody listening, nothing more. A subscriber reads the ring from its
// own cursor: one that falls more than RingSize events behind finds the
// events it missed gone, and is told so by an event of type "lost"
// (api.EventTypeLost, Detail: how many) before the ones that are left.
// Nothing is written to disk and no timer runs here.
//
// Files:
//
//	feed.go  Bus: Publish, Subscribe, Read
package feed

package daemon

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"opm/daemon/api"
)

// handleEvents streams the event feed as server-sent events (GET
// api.PathEvents) until the client goes away or the daemon ends. A
// Last-Event-ID header or ?since= replays what the ring still holds
// after that sequence number; without either the stream starts with the
// next event.
func (srv *server) handleEvents(w http.ResponseWriter, r *http.Request) {
	bus := srv.sup.feed
	if bus == nil {
		writeError(w, api.Errorf(api.CodeInternal, "this daemon has no event feed"))
		return
	}
	since := bus.Last()
	for _, v := range []struct{ name, text string }{
		{"the Last-Event-ID header", r.Header.Get(api.LastEventIDHeader)},
		{api.SinceParam, r.URL.Query().Get(api.SinceParam)},
	} {
		if v.text == "" {
			continue
		}
		n, err := strconv.ParseUint(v.text, 10, 64)
		if err != nil {
			writeError(w, api.Errorf(api.CodeBadRequest, "%s %q is not an event id (use a whole number ≥ 0, the id of the last event seen; 0 replays all the daemon still holds)", v.name, v.text))
			return
		}
		since = n
	}
	flusher, _ := w.(http.Flusher)
	if flusher == nil {
		writeError(w, api.Errorf(api.CodeInternal, "this connection cannot stream"))
		return
	}
	sub := bus.Subscribe(since)
	defer sub.Close()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()

	// No keep-alive: a stream on which nothing happens costs the daemon
	// nothing. A client that died is seen by its connection's end (TCP
	// keep-alive probes, sent by the kernel, find a peer that vanished);
	// a client behind a proxy that drops quiet connections reconnects
	// with Last-Event-ID, as the dashboard and EventSource do.
	var buf bytes.Buffer
	for {
		select {
		case <-r.Context().Done():
			return
		case <-srv.sup.quit:
			return
		case <-sub.C():
			for _, ev := range sub.Read() {
				writeSSE(&buf, ev)
			}
		}
		if buf.Len() == 0 {
			continue
		}
		_, err := w.Write(buf.Bytes())
		buf.Reset()
		flusher.Flush()
		if err != nil {
			return
		}
	}
}

// writeSSE writes ev as one server-sent event.
func writeSSE(buf *bytes.Buffer, ev api.Event) {
	data, _ := json.Marshal(ev)
	buf.WriteString("id: ")
	buf.WriteString(strconv.FormatUint(ev.Seq, 10))
	buf.WriteString("\nevent: ")
	buf.WriteString(ev.Type)
	buf.WriteString("\ndata: ")
	buf.Write(data)
	buf.WriteString("\n\n")
}

// Package dashboard is opm's web dashboard: one page of plain HTML, CSS
// and JavaScript, embedded in the binary and served by the daemon's TCP
// listener (daemon/tcp.go) at /. The page holds no data and no secret: it
// asks for the token of `opm token`, keeps it in the tab's
// sessionStorage and sends it as "Authorization: Bearer" with every
// request, the event stream (/v1/events, read with fetch, not
// EventSource, so that it takes the header too) and the log tail
// (/v1/apps/{id}/logs?follow=1) included. No cookie is set, so no other
// site can make the browser send the token (no CSRF), and the token never
// appears in a URL.
//
// The apps table changes on events only: an event updates the row's
// status, pid and restarts at once, and the page fetches /v1/apps?summary=1
// again (CPU, memory) once per burst of events. No timer polls.
//
// Files:
//
//	dashboard.go  the embedded files and their handler
//	index.html    the page: login form, apps table, app detail, daemon status
//	app.js        the page's code
//	style.css     its look
package dashboard

import (
	"embed"
	"net/http"
	"path"
)

//go:embed index.html app.js style.css
var files embed.FS

// types are the content types of the files.
var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// ServeHTTP serves the dashboard's files (GET and HEAD): / is index.html.
func ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "the dashboard's files are read with GET", http.StatusMethodNotAllowed)
		return
	}
	name := path.Clean(r.URL.Path)
	if name == "/" {
		name = "/index.html"
	}
	data, err := files.ReadFile(name[1:])
	if err != nil {
		http.Error(w, "no such page: the dashboard is at /", http.StatusNotFound)
		return
	}
	h.Set("Content-Type", types[path.Ext(name)])
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
	w.Write(data)
}

package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"

	"opm/daemon/api"
	"opm/daemon/appspec"
	"opm/daemon/wire"
)

// server maps the HTTP API onto supervisor requests. Handlers never touch
// the app table: they send requests and wait for replies.
type server struct {
	sup     *Supervisor
	cfg     Config
	log     *slog.Logger
	sampler *sampler
	// saveMu serialises writes of the dump.
	saveMu sync.Mutex
	// specs holds the apps' specs encoded, for listings.
	specs specCache
}

// route is one endpoint of the API: a method, a pattern of
// http.ServeMux, and its handler.
type route struct {
	method  string
	pattern string
	handler http.HandlerFunc
}

// routes is every endpoint the daemon serves, in one place: add a new one
// here, and to daemon/api/openapi.yaml — TestOpenAPIRoutes fails while
// the two disagree (it also finds the routes a listener registers on its
// own mux, and wants them documented too).
func (srv *server) routes() []route {
	return []route{
		{"GET", api.PathApps, srv.handleList},
		{"POST", api.PathApps, srv.handleStart},
		{"GET", api.PathApps + "/{target}", srv.handleList},
		{"DELETE", api.PathApps + "/{target}", srv.handleRemove},
		{"POST", api.PathApps + "/{target}/{action}", srv.handleAction},
		{"POST", api.PathFlush, srv.handleFlush},
		{"GET", api.PathDaemon, srv.handleStatus},
		{"POST", api.PathStop, srv.handleStop},
		{"POST", api.PathSave, srv.handleSave},
		{"POST", api.PathRestore, srv.handleRestore},
		{"GET", api.PathEvents, srv.handleEvents},
		{"GET", api.PathMetrics, srv.handleMetrics},
	}
}

type ctxKey int

const peerUIDKey ctxKey = 0

// httpServer returns the server of the API. Every connection's peer uid
// is read once (SO_PEERCRED) and checked on every request.
func (srv *server) httpServer() *wire.Server {
	mux := http.NewServeMux()
	for _, rt := range srv.routes() {
		mux.HandleFunc(rt.method+" "+rt.pattern, rt.handler)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, api.Errorf(api.CodeNotFound, "no endpoint %s %s in this opm daemon (version %s); are opm and its daemon the same version? ('opm daemon restart')", r.Method, r.URL.Path, api.Version))
	})
	uid := os.Getuid()
	return &wire.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			peer, _ := r.Context().Value(peerUIDKey).(int)
			if peer != uid {
				writeError(w, api.Errorf(api.CodeForbidden, "this opm daemon belongs to uid %d; uid %d may not use it (run opm as that user, or set your own OPM_HOME)", uid, peer))
				return
			}
			mux.ServeHTTP(w, r)
		}),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			peer, err := peerUID(c)
			if err != nil {
				peer = -1
			}
			return context.WithValue(ctx, peerUIDKey, peer)
		},
		ErrorLog: func(msg string, args ...any) {
			srv.log.Warn("api: "+msg, append([]any{"event", "api-error"}, args...)...)
		},
		// A client that hangs mid-request does not keep a connection
		// (and its descriptor) for ever; the listener caps how many are
		// served at once (run.go). Bodies beyond the cap are refused by
		// decode.
		ReadTimeout:  srv.cfg.APIReadTimeout,
		MaxBodyBytes: api.MaxRequestBytes,
	}
}

func (srv *server) handleList(w http.ResponseWriter, r *http.Request) {
	res, ok := srv.call(r.Context(), w, func(reply chan result) event { return listReq{target: r.PathValue("target"), reply: reply} })
	if !ok {
		return
	}
	srv.sampler.sample(res.apps)
	summary, _ := strconv.ParseBool(r.URL.Query().Get(api.SummaryParam))
	for i := range res.apps {
		a := &res.apps[i]
		a.Logs = srv.sup.logs.Stats(a.Spec.Key())
		if summary {
			a.Spec.Env = nil
		}
		a.SpecJSON = srv.specs.encoded(a.ID, summary, &a.Spec)
	}
	if r.PathValue("target") == "" {
		srv.specs.keepOnly(res.apps)
	}
	writeApps(w, res.apps)
}

func (srv *server) handleStart(w http.ResponseWriter, r *http.Request) {
	var req api.StartRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	spec, err := appspec.Build(req, srv.cfg.specDefaults())
	if err != nil {
		writeError(w, err)
		return
	}
	res, ok := srv.call(r.Context(), w, func(reply chan result) event {
		return startReq{spec: spec, update: req.Update, keepIfSame: req.KeepIfSame, stopped: req.Stopped, reply: reply}
	})
	if !ok {
		return
	}
	if len(res.apps) == 0 {
		writeError(w, api.Errorf(api.CodeConflict, "app %q was removed while it was being started; see 'opm list'", spec.Name))
		return
	}
	writeJSON(w, http.StatusOK, res.apps[0])
}

func (srv *server) handleAction(w http.ResponseWriter, r *http.Request) {
	req := actionReq{target: r.PathValue("target"), action: r.PathValue("action")}
	if req.action == "scale" {
		res, ok := srv.call(r.Context(), w, func(reply chan result) event {
			return scaleReq{name: req.target, count: r.URL.Query().Get(api.ScaleParam), reply: reply}
		})
		if ok {
			writeJSON(w, http.StatusOK, res.apps)
		}
		return
	}
	if req.action == "signal" {
		sig, err := api.ParseSignal(r.URL.Query().Get(api.SignalParam))
		if err != nil {
			writeError(w, api.Errorf(api.CodeBadRequest, "%v", err))
			return
		}
		req.signal = sig
	}
	res, ok := srv.call(r.Context(), w, func(reply chan result) event {
		req.reply = reply
		return req
	})
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, res.apps)
}

func (srv *server) handleRemove(w http.ResponseWriter, r *http.Request) {
	res, ok := srv.call(r.Context(), w, func(reply chan result) event { return removeReq{target: r.PathValue("target"), reply: reply} })
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, res.apps)
}

func (srv *server) handleFlush(w http.ResponseWriter, r *http.Request) {
	var req api.FlushRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	target := req.Target
	res, ok := srv.call(r.Context(), w, func(reply chan result) event { return listReq{target: target, reply: reply} })
	if !ok {
		return
	}
	for _, a := range res.apps {
		if err := srv.sup.logs.Flush(a.Spec, req.All); err != nil {
			writeError(w, api.Errorf(api.CodeInternal, "%v", err))
			return
		}
	}
	srv.log.Info("logs flushed", "event", "flushed", "apps", len(res.apps), "rotated_too", req.All)
	writeJSON(w, http.StatusOK, res.apps)
}

func (srv *server) handleStatus(w http.ResponseWriter, r *http.Request) {
	res, ok := srv.call(r.Context(), w, func(reply chan result) event { return statusReq{reply: reply} })
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, res.status)
}

func (srv *server) handleStop(w http.ResponseWriter, r *http.Request) {
	var req api.StopRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if v := r.URL.Query().Get(api.KeepAppsParam); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, api.Errorf(api.CodeBadRequest, "%s=%q is not a boolean (use 1 or 0)", api.KeepAppsParam, v))
			return
		}
		req.KeepApps = b
	}
	if svc := srv.cfg.Service; svc != "" {
		// Its service manager would take a stop for a failure or an
		// end, and the next command would start a daemon outside it.
		verb := "stop"
		if req.KeepApps {
			verb = "restart"
		}
		unit := svc
		switch svc {
		case serviceUnnamed:
			unit = "UNIT"
		case "opm.service":
			// The unit of `opm startup systemd-user`.
			writeError(w, api.Errorf(api.CodeConflict, "this opm daemon is run by systemd as the user unit %s: %s it through it: systemctl --user %s %s", svc, verb, verb, svc))
			return
		}
		if hint := srv.cfg.StopHint; hint != "" {
			writeError(w, api.Errorf(api.CodeConflict, "this opm daemon runs as %s: %s", svc, hint))
			return
		}
		writeError(w, api.Errorf(api.CodeConflict, "this opm daemon is run by a service manager (%s): %s it through it: systemctl %s %s (or rc-service %s %s)", svc, verb, verb, unit, unit, verb))
		return
	}
	// The stop goes on even if the client goes away.
	res, ok := srv.call(context.WithoutCancel(r.Context()), w, func(reply chan result) event { return shutdownReq{keepApps: req.KeepApps, reply: reply} })
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, res.status)
}

// call sends the request mk makes to the supervisor and waits for its
// result; an error is answered to the client, and ok is false.
func (srv *server) call(ctx context.Context, w http.ResponseWriter, mk func(reply chan result) event) (res result, ok bool) {
	reply := make(chan result, 1)
	res = srv.sup.ask(ctx, mk(reply), reply)
	if res.err != nil {
		writeError(w, res.err)
		return res, false
	}
	return res, true
}

// decode reads an optional JSON body of at most api.MaxRequestBytes into
// v. A larger body is refused as such, not cut short and then reported as
// broken JSON.
func decode(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, api.MaxRequestBytes+1))
	if err != nil {
		return api.Errorf(api.CodeBadRequest, "read request: %v", err)
	}
	if len(data) > api.MaxRequestBytes {
		return api.Errorf(api.CodeBadRequest, "request too large (limit %d bytes)", api.MaxRequestBytes)
	}
	if len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return api.Errorf(api.CodeBadRequest, "decode request: %v", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		writeError(w, fmt.Errorf("encode answer: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(data, '\n'))
}

// writeError answers with {"error", "code"} and the status for the code.
func writeError(w http.ResponseWriter, err error) {
	var e *api.Error
	if !errors.As(err, &e) {
		e = &api.Error{Code: api.CodeInternal, Message: err.Error()}
	}
	status := http.StatusInternalServerError
	switch e.Code {
	case api.CodeBadRequest:
		status = http.StatusBadRequest
	case api.CodeNotFound:
		status = http.StatusNotFound
	case api.CodeConflict:
		status = http.StatusConflict
	case api.CodeForbidden:
		status = http.StatusForbidden
	case api.CodeBusy:
		status = http.StatusServiceUnavailable
	case api.CodeUnauthorized:
		status = http.StatusUnauthorized
	case api.CodeRateLimited:
		status = http.StatusTooManyRequests
	}
	data, _ := json.Marshal(e)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

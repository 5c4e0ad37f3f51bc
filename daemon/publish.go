package daemon

import (
	"log/slog"

	"opm/daemon/api"
	"opm/daemon/hooks"
	"opm/daemon/process"
)

// publish tells the event feed (GET /v1/events) and the hooks what
// happened to a: ev is filled with a's name, instance, id and restarts.
// It never blocks: the feed keeps the event in RAM, hooks run off the
// loop. Without a feed and hooks (unit tests) it does nothing.
func (s *Supervisor) publish(a *app, ev api.Event) {
	if a != nil && ev.Type == api.EventTypeRestart {
		a.countRestart(ev.Reason) // for /metrics
	}
	if s.feed == nil && s.hooks == nil {
		return
	}
	if a != nil {
		ev.App, ev.Name, ev.Instance, ev.ID, ev.Restarts = a.label(), a.spec.Name, a.spec.Instance, a.id, a.restarts
	}
	ev = s.feed.Publish(ev)
	if s.hooks == nil {
		return
	}
	if h := s.cfg.Hooks.For(ev.Type); h != "" {
		s.hooks.Fire(ev, hooks.Hook{Run: h, Format: s.cfg.Hooks.WebhookFormat})
	}
	if a != nil {
		if h := a.spec.Hooks.For(ev.Type); h != "" {
			s.hooks.Fire(ev, hooks.Hook{Run: h, Format: a.spec.Hooks.WebhookFormat})
		}
	}
}

// newHookRunner is the runner of the hooks, as config.toml sets it.
func newHookRunner(cfg Config, log *slog.Logger) *hooks.Runner {
	return &hooks.Runner{Timeout: cfg.HookTimeout, Retries: cfg.HookRetries, RetryDelay: cfg.HookRetryDelay, Log: log}
}

// exitEventOf is the exit event of a's process pid that ended with st.
func exitEventOf(pid int, st process.ExitStatus) api.Event {
	ev := api.Event{Type: api.EventTypeExit, PID: pid}
	switch {
	case !st.Known:
		ev.Detail = st.String()
	case st.Signal != 0:
		ev.Signal = api.SignalString(st.Signal)
	default:
		code := st.Code
		ev.Code = &code
	}
	return ev
}

// restartReason is the reason of a restart event for the reason opm
// says in daemon.log and `opm info`.
func restartReason(why string) string {
	switch why {
	case "memory limit":
		return api.ReasonMemory
	}
	return why
}

// publishUserRestart publishes the restart a client asked for (restart,
// reload) of an app that runs; one that does not is simply started.
func (s *Supervisor) publishUserRestart(a *app, reason string) {
	if a.running() {
		s.publish(a, api.Event{Type: api.EventTypeRestart, PID: a.pid, Reason: reason})
	}
}

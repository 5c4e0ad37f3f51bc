package hooks

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"opm/daemon/api"
)

// Defaults of a Runner.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultRetries    = 3 // config.toml's hook_retries; a Runner's is 0
	DefaultRetryDelay = time.Second
	DefaultWorkers    = 4
	// queueSize bounds the runs waiting for a worker.
	queueSize = 256
)

// Hook is one hook to run: a command or an http:// URL, and for a URL
// the body's format (api.WebhookJSON, Slack, Discord).
type Hook struct {
	Run    string
	Format string
}

// Runner runs hooks off the caller's goroutine. Set its fields before the
// first Fire; zero values take the defaults, but for Retries.
type Runner struct {
	Timeout    time.Duration
	Retries    int // more tries of a failed URL hook; 0: none
	RetryDelay time.Duration
	Workers    int
	Log        *slog.Logger

	once  sync.Once
	queue chan job
	// active counts the runs under way; drained is closed once Close
	// was called and none is left.
	mu      sync.Mutex
	active  int
	closing bool
	drained chan struct{}
	ctx     context.Context
	stop    context.CancelFunc
}

type job struct {
	ev   api.Event
	hook Hook
}

func (r *Runner) init() {
	if r.Timeout <= 0 {
		r.Timeout = DefaultTimeout
	}
	if r.RetryDelay <= 0 {
		r.RetryDelay = DefaultRetryDelay
	}
	if r.Workers <= 0 {
		r.Workers = DefaultWorkers
	}
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	r.queue = make(chan job, queueSize)
	r.ctx, r.stop = context.WithCancel(context.Background())
	for range r.Workers {
		go r.work()
	}
}

// Fire queues hook to run for ev and returns at once. A nil Runner, or an
// empty hook, does nothing.
func (r *Runner) Fire(ev api.Event, hook Hook) {
	if r == nil || hook.Run == "" {
		return
	}
	r.once.Do(r.init)
	select {
	case r.queue <- job{ev: ev, hook: hook}:
	default:
		r.failed(ev, hook, "too many hooks waiting to run (dropped)", 0)
	}
}

// Close cancels the runs under way (their commands are killed, with
// their process groups) and waits for them to end, for at most a
// second; runs queued later fail at once.
func (r *Runner) Close() {
	if r == nil {
		return
	}
	r.once.Do(func() {}) // nothing ever started: nothing to end
	if r.stop == nil {
		return
	}
	r.stop()
	r.mu.Lock()
	if !r.closing {
		r.closing = true
		r.drained = make(chan struct{})
		if r.active == 0 {
			close(r.drained)
		}
	}
	drained := r.drained
	r.mu.Unlock()
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-drained:
	case <-t.C:
	}
}

func (r *Runner) work() {
	for j := range r.queue {
		r.mu.Lock()
		if r.closing {
			r.mu.Unlock()
			continue // closing: what was queued is dropped, quietly
		}
		r.active++
		r.mu.Unlock()
		r.run(j)
		r.mu.Lock()
		r.active--
		if r.closing && r.active == 0 {
			close(r.drained)
		}
		r.mu.Unlock()
	}
}

// run runs one hook, with its retries.
func (r *Runner) run(j job) {
	if !api.IsHookURL(j.hook.Run) {
		if err := r.command(j.ev, j.hook.Run); err != nil {
			r.failed(j.ev, j.hook, err.Error(), 1)
		}
		return
	}
	// The body and the URL are the same for every try.
	body, err := Body(j.ev, j.hook.Format)
	if err != nil {
		r.failed(j.ev, j.hook, err.Error(), 1)
		return
	}
	u, err := url.Parse(strings.TrimSpace(j.hook.Run))
	if err != nil {
		r.failed(j.ev, j.hook, err.Error(), 1)
		return
	}
	delay := r.RetryDelay
	tries := 1 + max(r.Retries, 0)
	for i := 1; ; i++ {
		err := r.post(u, body)
		if err == nil {
			return
		}
		if i >= tries || r.ctx.Err() != nil {
			r.failed(j.ev, j.hook, err.Error(), i)
			return
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.ctx.Done():
			t.Stop()
			r.failed(j.ev, j.hook, err.Error(), i)
			return
		}
		delay *= 2
	}
}

func (r *Runner) failed(ev api.Event, hook Hook, why string, tries int) {
	if r.Log == nil {
		return
	}
	r.Log.Warn("hook failed", "event", "hook-failed", "hook", hook.Run, "on", ev.Type, "app", ev.App, "seq", ev.Seq, "tries", tries, "error", why)
}

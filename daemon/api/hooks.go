package api

import (
	"fmt"
	"net/url"
	"strings"
)

// Hooks run when an app's events happen (see Event): each is either a
// command, run with /bin/sh -c and the event in its environment
// (OPM_EVENT, OPM_APP, OPM_PID, OPM_EXIT_CODE, OPM_SIGNAL, OPM_REASON,
// OPM_TIME, OPM_EVENT_JSON), or an http:// URL the event is POSTed to,
// as WebhookFormat says: "json" (the Event, the default), "slack"
// ({"text": ...}) or "discord" ({"content": ...}). https:// is refused:
// opm links no TLS; point the hook at a local relay instead. The same
// keys serve config.toml's [hooks] table (every app) and an app's own
// settings (its apps alone; both run).
type Hooks struct {
	OnStart       string `json:"on_start,omitempty" toml:"on_start"`
	OnExit        string `json:"on_exit,omitempty" toml:"on_exit"`
	OnRestart     string `json:"on_restart,omitempty" toml:"on_restart"`
	OnErrored     string `json:"on_errored,omitempty" toml:"on_errored"`
	OnStop        string `json:"on_stop,omitempty" toml:"on_stop"`
	OnMemoryLimit string `json:"on_memory_limit,omitempty" toml:"on_memory_limit"`
	WebhookFormat string `json:"webhook_format,omitempty" toml:"webhook_format"`
}

// Webhook formats.
const (
	WebhookJSON    = "json"
	WebhookSlack   = "slack"
	WebhookDiscord = "discord"
)

// HookKeys are the hook settings' keys, in order, and the event type
// each runs on: the one table of the hooks (field is the hook's field
// of a Hooks).
var HookKeys = []struct {
	Key, Event string
	field      func(*Hooks) *string
}{
	{"on_start", EventTypeStart, func(h *Hooks) *string { return &h.OnStart }},
	{"on_exit", EventTypeExit, func(h *Hooks) *string { return &h.OnExit }},
	{"on_restart", EventTypeRestart, func(h *Hooks) *string { return &h.OnRestart }},
	{"on_errored", EventTypeErrored, func(h *Hooks) *string { return &h.OnErrored }},
	{"on_stop", EventTypeStop, func(h *Hooks) *string { return &h.OnStop }},
	{"on_memory_limit", EventTypeMemoryLimit, func(h *Hooks) *string { return &h.OnMemoryLimit }},
}

// Field is the hook of key ("on_errored"), nil for a key that names
// no hook.
func (h *Hooks) Field(key string) *string {
	for _, k := range HookKeys {
		if k.Key == key {
			return k.field(h)
		}
	}
	return nil
}

// For is the hook that runs on events of type typ ("" for none).
func (h Hooks) For(typ string) string {
	for _, k := range HookKeys {
		if k.Event == typ {
			return *k.field(&h)
		}
	}
	return ""
}

// Any reports whether h has a hook at all.
func (h Hooks) Any() bool {
	for _, k := range HookKeys {
		if h.For(k.Event) != "" {
			return true
		}
	}
	return false
}

// IsHookURL reports whether a hook is a URL (else it is a command).
func IsHookURL(hook string) bool {
	l := strings.ToLower(strings.TrimSpace(hook))
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// CheckHook refuses a hook that cannot run: empty or with a NUL byte, or
// a URL that is not a plain http:// one with a host.
func CheckHook(hook string) error {
	if strings.TrimSpace(hook) == "" || strings.ContainsRune(hook, 0) {
		return fmt.Errorf("%q is neither a command nor an http:// URL (empty, or with a NUL byte)", hook)
	}
	if !IsHookURL(hook) {
		return nil
	}
	u, err := url.Parse(strings.TrimSpace(hook))
	if err != nil {
		return fmt.Errorf("%q is not a valid URL: %v", hook, err)
	}
	if u.Scheme != "http" {
		return fmt.Errorf("%q: opm posts webhooks over plain http:// only (it links no TLS); send it to a local relay that forwards to https (e.g. an http:// URL on 127.0.0.1)", hook)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host (use e.g. http://127.0.0.1:8080/hook)", hook)
	}
	return nil
}

// CheckWebhookFormat refuses an unknown webhook_format.
func CheckWebhookFormat(f string) error {
	switch f {
	case "", WebhookJSON, WebhookSlack, WebhookDiscord:
		return nil
	}
	return fmt.Errorf("webhook_format must be %q, %q or %q, got %q", WebhookJSON, WebhookSlack, WebhookDiscord, f)
}

// CheckHooks reports what is wrong with h, the key first.
func CheckHooks(h Hooks) error {
	for _, k := range HookKeys {
		if v := h.For(k.Event); v != "" {
			if err := CheckHook(v); err != nil {
				return fmt.Errorf("%s: %w", k.Key, err)
			}
		}
	}
	return CheckWebhookFormat(h.WebhookFormat)
}

// HookKeyNames lists the hook keys, for error messages.
func HookKeyNames() string {
	names := make([]string, len(HookKeys))
	for i, k := range HookKeys {
		names[i] = k.Key
	}
	return strings.Join(names, ", ")
}

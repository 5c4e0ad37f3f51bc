package ecosystem

import "opm/daemon/api"

// hookSetting reads a hook (on_start, on_errored...: a command or an
// http:// URL) or webhook_format into h.
func (a *appReader) hookSetting(f field, h *api.Hooks) error {
	text, ok := a.text(f)
	if f.key == "webhook_format" {
		if !ok {
			return a.wrong(f, `"json", "slack" or "discord"`)
		}
		if err := api.CheckWebhookFormat(text); err != nil {
			return a.fault(f, err.Error())
		}
		h.WebhookFormat = text
		return nil
	}
	if !ok {
		return a.wrong(f, "a command (run with /bin/sh -c) or an http:// URL to POST the event to")
	}
	if err := api.CheckHook(text); err != nil {
		return a.fault(f, err.Error())
	}
	*h.Field(f.key) = text
	return nil
}

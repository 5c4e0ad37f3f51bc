package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"opm/daemon/api"
	"opm/daemon/wire"
)

// Body is what a URL hook of format posts for ev.
func Body(ev api.Event, format string) ([]byte, error) {
	switch format {
	case api.WebhookSlack:
		return json.Marshal(map[string]string{"text": Text(ev)})
	case api.WebhookDiscord:
		return json.Marshal(map[string]string{"content": Text(ev)})
	}
	return json.Marshal(ev)
}

// Text is ev in one line, for people: "opm: web:1 exit (pid 42, code 1)".
func Text(ev api.Event) string {
	var b strings.Builder
	b.WriteString("opm: ")
	if ev.App != "" {
		b.WriteString(ev.App + " ")
	}
	b.WriteString(ev.Type)
	var facts []string
	if ev.PID != 0 {
		facts = append(facts, fmt.Sprintf("pid %d", ev.PID))
	}
	if ev.Code != nil {
		facts = append(facts, fmt.Sprintf("code %d", *ev.Code))
	}
	if ev.Signal != "" {
		facts = append(facts, "signal "+ev.Signal)
	}
	if ev.Reason != "" {
		facts = append(facts, "reason "+ev.Reason)
	}
	if ev.Restarts != 0 {
		facts = append(facts, fmt.Sprintf("restarts %d", ev.Restarts))
	}
	if ev.Detail != "" {
		facts = append(facts, ev.Detail)
	}
	if len(facts) > 0 {
		b.WriteString(" (" + strings.Join(facts, ", ") + ")")
	}
	return b.String()
}

// post makes one try of a URL hook, posting body to u: the answer must
// be 2xx.
func (r *Runner) post(u *url.URL, body []byte) error {
	ctx, cancel := context.WithTimeout(r.ctx, r.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "opm/"+api.Version)
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	resp, err := wire.Send(c, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", u.Redacted(), resp.Status)
	}
	return nil
}

package ecosystem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultNodeTimeout bounds the evaluation of a JavaScript ecosystem file
// when Options.NodeTimeout is zero.
const DefaultNodeTimeout = 10 * time.Second

// jsLoader is the program node runs to read a JavaScript ecosystem file
// (process.argv[1]): it imports the file (CommonJS or ES module), takes
// its exports (module.exports, export default, or an export named apps)
// and writes them as JSON to descriptor 3, or the error it threw. What the
// file itself prints goes to node's stdout and stderr, never into the
// answer. It exits once answered, so that a timer or a connection the
// file leaves open does not hold it.
const jsLoader = `'use strict';
const fs = require('node:fs');
const { pathToFileURL } = require('node:url');
const answer = (v) => {
  const b = Buffer.from(JSON.stringify(v));
  for (let off = 0; off < b.length; ) off += fs.writeSync(3, b, off);
};
import(pathToFileURL(process.argv[1]).href).then((m) => {
  let config = m.default;
  if (config === undefined && m.apps !== undefined) config = { apps: m.apps };
  answer({ config: config === undefined ? null : config });
  process.exit(0);
}).catch((e) => {
  const error = e instanceof Error ? e.name + ': ' + e.message : String(e);
  answer({ error: error, stack: e && e.stack ? String(e.stack) : '' });
  process.exit(1);
});
`

// maxStderr is how much of node's stderr a message quotes from.
const maxStderr = 4 << 10

// evalJS runs node on the file at abs and reads its exports. node runs in
// its own process group, killed whole when the timeout expires (and with
// the caller, should that die first).
func (l *loader) evalJS(abs string) (*node, error) {
	bin, err := exec.LookPath("node")
	if err != nil {
		return nil, l.fail(0, fmt.Sprintf("opm reads JavaScript ecosystem files by running node, and node is not installed (not found in PATH). "+
			"Install node, or convert the file to YAML: on a machine with node, run 'opm start %[1]s' and then 'opm export --format yaml > ecosystem.yaml'; "+
			"or write ecosystem.yaml by hand, with the same keys under apps:", l.file), err)
	}
	timeout := l.o.NodeTimeout
	if timeout <= 0 {
		timeout = DefaultNodeTimeout
	}
	fd, err := unix.MemfdCreate("opm-ecosystem", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("create a buffer for node's answer: %w", err)
	}
	answer := os.NewFile(uintptr(fd), "node's answer")
	defer answer.Close()

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-e", jsLoader, "--", abs)
	cmd.Env = l.environ()
	cmd.ExtraFiles = []*os.File{answer}
	stderr := &headBuffer{max: maxStderr}
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		// The group's leader is not reaped yet, so its id still names
		// this group: kill node and whatever the file started.
		return unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
	}
	cmd.WaitDelay = time.Second
	runErr := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil, l.fail(0, fmt.Sprintf("node did not finish reading the file within %s, and was stopped; does the file wait on something (a network call, a prompt, a server it starts)?", timeout), ctx.Err())
	}
	if _, err := answer.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("read node's answer: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(answer, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read node's answer: %w", err)
	}
	if len(out) == 0 {
		var ee *exec.ExitError
		if errors.As(runErr, &ee) || runErr == nil {
			return nil, l.fail(0, "node exited before it gave the file's exports (does the file call process.exit?)"+stderr.quote(), runErr)
		}
		return nil, l.fail(0, "cannot run node: "+runErr.Error(), runErr)
	}
	if len(out) > maxFileBytes {
		return nil, l.fail(0, fmt.Sprintf("the file's exports are larger than %d bytes", maxFileBytes), nil)
	}
	res, err := parseJSON(out, false)
	if err != nil {
		// What JSON.stringify wrote, but too deep or too large to read.
		return nil, l.fail(0, "cannot read the file's exports: "+err.Error(), err)
	}
	var config, message, stack *node
	for _, f := range res.fields {
		switch f.key {
		case "config":
			config = f.val
		case "error":
			message = f.val
		case "stack":
			stack = f.val
		}
	}
	if message != nil {
		line := 0
		if stack != nil {
			line = stackLine(stack.text, abs)
		}
		return nil, l.fail(line, "node could not load it: "+message.text, nil)
	}
	if config == nil || config.kind == kindNull {
		return nil, l.fail(0, "the file exports nothing: set module.exports = { apps: [...] } (or export default, in an ES module)", nil)
	}
	return config, nil
}

// stackLine finds the line of the file in a stack node printed: the
// first place the file's path is followed by ":<line>".
func stackLine(stack, abs string) int {
	u := (&url.URL{Scheme: "file", Path: abs}).String()
	re := regexp.MustCompile(`(?:` + regexp.QuoteMeta(u) + `|` + regexp.QuoteMeta(abs) + `):(\d+)`)
	if m := re.FindStringSubmatch(stack); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

// headBuffer keeps the first max bytes written to it.
type headBuffer struct {
	max int
	b   []byte
}

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := h.max - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// quote is what node printed, for a message ("" when nothing).
func (h *headBuffer) quote() string {
	if len(h.b) == 0 {
		return ""
	}
	return "; node printed: " + strings.TrimSpace(string(h.b))
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

// chromium finds Debian's chromium (make testdeps installs it under CI or
// with OPM_INSTALL_TESTDEPS=1).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed: the dashboard's browser test skips. To install it: sudo apt-get install --no-install-recommends chromium (or make testdeps OPM_INSTALL_TESTDEPS=1, as root)")
	return ""
}

// browser starts a headless chromium for the test; it ends with the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.DisableGPU,
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // chromium refuses root with its sandbox
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelTime := context.WithTimeout(ctx, 50*time.Second)
	t.Cleanup(func() { cancelTime(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// run runs browser actions, failing the test with what was being done.
func runIn(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("%s: %v\npage:\n%s", what, err, page)
	}
}

// waitPage waits until the JavaScript expression expr is true in the page.
func waitPage(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	runIn(t, ctx, "waiting for "+what, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(15*time.Second)))
}

// rowPID is the pid the dashboard shows for the app named name.
func rowPID(name string) string {
	return fmt.Sprintf(`Number((document.querySelector('#apps tbody tr[data-name=%q]') || {dataset: {}}).dataset.pid || 0)`, name)
}

func TestDashboardInChromium(t *testing.T) {
	chromium(t)
	e, base, token := newTCPEnv(t)
	names := []string{"alpha", "beta", "gamma"}
	for _, n := range names {
		e.startApp(n, "block")
	}
	ctx := browser(t)
	start := time.Now()

	// A wrong token is refused, and the page says so.
	runIn(t, ctx, "open the dashboard",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), strings.Repeat("f", 64)),
		chromedp.Click(chromedp.CSS("#login-button")),
	)
	waitPage(t, ctx, "the wrong token to be refused", `document.querySelector('#login-error').textContent.includes('Wrong token') && document.querySelector('#main').hidden && document.querySelector('#token').value === ''`)

	// The right one shows the apps, and the event stream connects.
	runIn(t, ctx, "log in",
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#login-button")),
	)
	waitPage(t, ctx, "3 apps in the table", `document.querySelectorAll('#apps tbody tr').length === 3`)
	waitPage(t, ctx, "the live event stream", `document.querySelector('#live').textContent === 'live'`)
	for _, n := range names {
		waitPage(t, ctx, n+" online with its pid", fmt.Sprintf(`%s === %d && document.querySelector('#apps tbody tr[data-name=%q]').dataset.status === 'online'`, rowPID(n), e.app(n).PID, n))
	}
	waitPage(t, ctx, "the daemon's status", `document.querySelector('#daemon').textContent.includes('`+api.Version+`')`)

	// Restart beta with its button: a new pid appears.
	beta := e.app("beta").PID
	runIn(t, ctx, "click restart on beta", chromedp.Click(chromedp.CSS(`#apps tbody tr[data-name="beta"] button.act-restart`)))
	var now api.App
	testkit.WaitFor(t, "beta restarted", 10*time.Second, func() bool {
		now = e.app("beta")
		return now.PID != beta && now.PID != 0 && now.Status == api.StatusOnline
	})
	waitPage(t, ctx, "beta's new pid in the table", fmt.Sprintf(`%s === %d`, rowPID("beta"), now.PID))

	// Kill alpha's process: the crash shows up live, then its restart.
	alpha := e.app("alpha").PID
	if err := syscall.Kill(alpha, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitPage(t, ctx, "alpha's crash in the events", fmt.Sprintf(`[...document.querySelectorAll('#feed li.exit')].some(li => li.textContent.includes('exit alpha pid %d'))`, alpha))
	testkit.WaitFor(t, "alpha restarted", 10*time.Second, func() bool {
		now = e.app("alpha")
		return now.PID != alpha && now.PID != 0 && now.Status == api.StatusOnline
	})
	waitPage(t, ctx, "alpha's new pid and a restart in the table", fmt.Sprintf(`%s === %d && document.querySelector('#apps tbody tr[data-name="alpha"] .restarts').textContent === '1'`, rowPID("alpha"), now.PID))

	// gamma's detail, with its log.
	runIn(t, ctx, "open gamma", chromedp.Click(chromedp.CSS(`#apps tbody tr[data-name="gamma"] td.name`)))
	gamma := e.app("gamma").PID
	waitPage(t, ctx, "gamma's log", fmt.Sprintf(`document.querySelector('#log').textContent.includes('block %d')`, gamma))
	// The log follows: the next process's first line comes in.
	e.ok("restart", "gamma")
	testkit.WaitFor(t, "gamma restarted", 10*time.Second, func() bool {
		now = e.app("gamma")
		return now.PID != gamma && now.PID != 0
	})
	waitPage(t, ctx, "gamma's new line in the log", fmt.Sprintf(`document.querySelector('#log').textContent.includes('block %d')`, now.PID))

	// A screenshot that shows something.
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("take a screenshot: %v", err)
	}
	path := filepath.Join(t.TempDir(), "dashboard.png")
	if err := os.WriteFile(path, shot, 0o600); err != nil {
		t.Fatal(err)
	}
	if keep := os.Getenv("OPM_TEST_SCREENSHOT"); keep != "" {
		// To look at it: the temp dir goes with the test.
		_ = os.WriteFile(keep, shot, 0o644)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("decode the screenshot %s: %v", path, err)
	}
	colours := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, a := img.At(x, y).RGBA()
			colours[[4]uint32{r, g, bl, a}] = true
		}
	}
	if len(colours) < 20 {
		t.Fatalf("the screenshot %s has %d colours: blank, or nearly", path, len(colours))
	}
	t.Logf("screenshot %s: %dx%d, %d colours; browser part took %s", path, b.Dx(), b.Dy(), len(colours), time.Since(start).Round(time.Millisecond))
}

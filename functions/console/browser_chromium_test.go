//go:build browser

package console_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browser is one Chromium for the whole run: starting it costs a second or
// two, a fresh browser context (its own storage, like a new incognito
// window) costs milliseconds, so each scenario gets one of those.
type browser struct {
	ctx context.Context
}

// startBrowser starts headless Chromium, from $CHROMIUM or Debian's
// /usr/bin/chromium. A machine without it fails the run: browser tests
// that skip would pass without ever looking at the console.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		t.Fatalf("no Chromium at %s (%v): install it with `apt-get install chromium`, or set CHROMIUM to its path", path, err)
	}
	// The profile directory is made first, so it is removed after the
	// browser, whose cancel below waits for the process to end.
	profile := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox, // the tests run as root in CI
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.WindowSize(desktopWidth, desktopHeight),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no timeout
		t.Fatalf("start %s: %v", path, err)
	}
	// A failure capture of an earlier run would describe a failure this
	// run may not have.
	stale, _ := filepath.Glob(filepath.Join(screenshotDir(t), "failed-*.png"))
	for _, f := range stale {
		_ = os.Remove(f)
	}
	return &browser{ctx: ctx}
}

// The two widths every page is looked at.
const (
	desktopWidth, desktopHeight = 1280, 800
	phoneWidth, phoneHeight     = 390, 844
)

// tab is one scenario's page, in a browser context of its own, watched
// for what no console page may ever do: ask another origin for anything,
// throw, log an error, or break its CSP.
type tab struct {
	t      *testing.T
	ctx    context.Context
	svc    *service
	origin string

	mu       sync.Mutex
	problems []string
}

// open gives t a tab on svc. When t ends, the tab fails t for every
// problem it saw and for anything left in localStorage.
func (b *browser) open(t *testing.T, svc *service) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &tab{t: t, ctx: ctx, svc: svc, origin: svc.url}
	if err := chromedp.Listen(ctx, p.watch); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	p.do("set the desktop viewport", chromedp.EmulateViewport(desktopWidth, desktopHeight))
	t.Cleanup(p.finish)
	return p
}

// watch runs on the browser's reading goroutine: it only records.
func (p *tab) watch(ev any) {
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if u := ev.Request.URL; !strings.HasPrefix(u, "data:") && originOf(u) != p.origin {
			p.problem("a request to another origin: %s %s", ev.Request.Method, u)
		}
	case *network.EventResponseReceived:
		if ev.Response.Status >= 500 {
			p.problem("%d from %s", ev.Response.Status, ev.Response.URL)
		}
	case *network.EventLoadingFailed:
		if ev.BlockedReason != "" {
			p.problem("a request was blocked (%s): %s", ev.BlockedReason, ev.ErrorText)
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		p.problem("an uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, text)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				if a.Description != "" {
					args = append(args, a.Description)
				} else {
					args = append(args, string(a.Value))
				}
			}
			p.problem("console.%s: %s", ev.Type, strings.Join(args, " "))
		}
	case *log.EventEntryAdded:
		e := ev.Entry
		// A 4xx answer is logged by Chromium as a failed resource; the
		// console meets them by design (a 401 before a refresh, a 409 it
		// shows), and every request is checked above for its origin and
		// for 5xx. Anything else at warning or error (a CSP violation, a
		// blocked mixed request, a deprecation) is a problem.
		if e.Source == log.EntrySourceNetwork && strings.HasPrefix(e.Text, "Failed to load resource: the server responded with a status of 4") {
			return
		}
		if e.Level == log.EntryLevelError || e.Level == log.EntryLevelWarning {
			p.problem("browser log (%s, %s): %s %s", e.Source, e.Level, e.Text, e.URL)
		}
	}
}

func (p *tab) problem(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.problems = append(p.problems, fmt.Sprintf(format, args...))
}

// finish checks what every scenario must leave behind: nothing in
// localStorage (docs/security.md: tokens never go there), and no problem.
func (p *tab) finish() {
	t := p.t
	n, err := evalIn[int](p, "localStorage.length")
	if err != nil {
		t.Errorf("read localStorage: %v", err)
	} else if n != 0 {
		keys, _ := evalIn[[]string](p, "Object.keys(localStorage)")
		t.Errorf("localStorage holds %d items %q; the console must never write there", n, keys)
	}
	p.mu.Lock()
	for _, m := range p.problems {
		t.Error(m)
	}
	p.mu.Unlock()
	if t.Failed() {
		p.capture("failed-"+strings.ReplaceAll(t.Name(), "/", "-"), desktopWidth, desktopHeight, false)
	}
}

func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Scheme + "://" + u.Host
}

// screenshot saves the page as it is now at both widths, as
// <name>-desktop.png and <name>-phone.png, then returns to the desktop.
func (p *tab) screenshot(name string) {
	p.t.Helper()
	p.capture(name+"-phone", phoneWidth, phoneHeight, true)
	p.capture(name+"-desktop", desktopWidth, desktopHeight, false)
}

func (p *tab) capture(name string, w, h int64, mobile bool) {
	p.t.Helper()
	opts := []chromedp.EmulateViewportOption{}
	if mobile {
		opts = append(opts, chromedp.EmulateMobile)
	}
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, h, opts...)); err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	dir := screenshotDir(p.t)
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
	}
}

// screenshotDir is $SCREENSHOT_DIR, or build/screenshots; a relative one
// is taken from the repository's root, where make runs.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("SCREENSHOT_DIR")
	if dir == "" {
		dir = filepath.Join("build", "screenshots")
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(repoRoot(t), dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// repoRoot is the nearest folder above the test's with a go.mod.
func repoRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

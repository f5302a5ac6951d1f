package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

const (
	noBrowser = "Chromium not found: browser tests skipped (apt-get install chromium)"
	// stepTimeout bounds one step of a test: a query that finds nothing
	// fails after it instead of waiting for the test binary's timeout.
	stepTimeout = 10 * time.Second
)

// The one browser every test opens its tabs in, started by TestMain.
var (
	browserCtx context.Context
	browserErr error
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	path := findChromium()
	if path == "" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "tokend-e2e-chromium-")
	if err != nil {
		browserErr = err
		return m.Run()
	}
	defer removeProfile(dir)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(dir),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no deadline
		browserErr = fmt.Errorf("start %s: %w", path, err)
	}
	browserCtx = ctx
	return m.Run()
}

// findChromium returns the browser to drive: $TOKEND_CHROMIUM, else
// Debian's chromium, else one on the PATH; "" if there is none.
func findChromium() string {
	if p := os.Getenv("TOKEND_CHROMIUM"); p != "" {
		if found, err := exec.LookPath(p); err == nil {
			return found
		}
		return ""
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if found, err := exec.LookPath(name); err == nil {
			return found
		}
	}
	return ""
}

// removeProfile removes the browser's profile directory, which its child
// processes can still be writing for a moment after it stops.
func removeProfile(dir string) {
	for range 50 {
		if os.RemoveAll(dir) == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// needBrowser skips the test without a browser, or fails it when CI asks
// for one with TOKEND_REQUIRE_BROWSER=1.
func needBrowser(t *testing.T) {
	t.Helper()
	switch {
	case browserErr != nil:
		t.Fatal(browserErr)
	case browserCtx == nil && os.Getenv("TOKEND_REQUIRE_BROWSER") == "1":
		t.Fatal("Chromium not found, and TOKEND_REQUIRE_BROWSER=1 requires the browser tests (apt-get install chromium, or set TOKEND_CHROMIUM)")
	case browserCtx == nil:
		t.Skip(noBrowser)
	}
}

// tab is one browser tab in a browser context of its own (its own cookies
// and permissions), watching everything the pages in it do: an uncaught
// exception, a console error, a failed request or an unexpected error
// status fails the test.
type tab struct {
	t    *testing.T
	app  *app
	ctx  context.Context
	base string
	name string

	mu       sync.Mutex
	problems []string
	// requests are "GET /tokens" and so on, by id.
	requests map[network.RequestID]string
	expected []expectedStatus
	// noScript is set when the tab runs without JavaScript.
	noScript bool
	// width is the screen's, in CSS pixels, when the tab emulates one.
	width int
	// documents are the pages the tab loaded, "GET /tokens" and so on.
	documents []string
	shots     int
}

type expectedStatus struct {
	request string // "POST /tokens/system"
	status  int64
}

type tabOption func(*tab) []chromedp.Action[chromedp.Void]

// withoutJavaScript turns off JavaScript in the tab, as a person can.
func withoutJavaScript(tb *tab) []chromedp.Action[chromedp.Void] {
	tb.noScript = true
	return []chromedp.Action[chromedp.Void]{scriptsOff(true)}
}

func scriptsOff(off bool) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: off})
		return chromedp.Void{}, err
	}
}

// narrowScreen makes the tab a phone 375 CSS pixels wide.
func narrowScreen(tb *tab) []chromedp.Action[chromedp.Void] {
	tb.width = 375
	return []chromedp.Action[chromedp.Void]{chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile)}
}

func newTab(t *testing.T, a *app, opts ...tabOption) *tab {
	t.Helper()
	needBrowser(t)
	tb := &tab{t: t, app: a, base: a.url, name: shotName(t.Name()), requests: map[network.RequestID]string{}}
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext(), chromedp.WithListener(tb.record))
	t.Cleanup(cancel)
	tb.ctx = ctx
	// The first Do opens the tab; its life is bound to ctx, which has no
	// deadline, so that a step that times out leaves the tab to screenshot.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	origin := a.url
	bcid := chromedp.FromContext(ctx).BrowserContextID
	steps := []chromedp.Action[chromedp.Void]{
		// Headless tabs are not focused; clipboard and focus need one that is.
		func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, t, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
			return chromedp.Void{}, err
		},
	}
	for _, o := range opts {
		steps = append(steps, o(tb)...)
	}
	tb.do("set up the tab", steps...)
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		_, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted,
			Origin: origin, BrowserContextID: bcid,
		})
		if err != nil {
			t.Fatalf("grant %s: %v", name, err)
		}
	}
	t.Cleanup(tb.finish)
	return tb
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

func shotName(testName string) string { return unsafeChars.ReplaceAllString(testName, "-") }

// record runs in the tab's event loop, in the order the events came: it
// must return fast and run no command.
func (tb *tab) record(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		tb.problems = append(tb.problems, fmt.Sprintf("JavaScript exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				if len(a.Value) > 0 {
					args = append(args, string(a.Value))
				} else {
					args = append(args, a.Description)
				}
			}
			tb.problems = append(tb.problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
		}
	case *cdplog.EventEntryAdded:
		// Failed loads are judged by their responses below, where an
		// expected status can be told from an unexpected one.
		if e := ev.Entry; e.Level == cdplog.EntryLevelError && e.Source != cdplog.EntrySourceNetwork {
			tb.problems = append(tb.problems, fmt.Sprintf("console error (%s) %s: %s", e.Source, e.URL, e.Text))
		}
	case *network.EventRequestWillBeSent:
		req := ev.Request.Method + " " + strings.TrimPrefix(ev.Request.URL, tb.base)
		tb.requests[ev.RequestID] = req
		if ev.Type == network.ResourceTypeDocument && strings.HasPrefix(ev.Request.URL, tb.base) {
			tb.documents = append(tb.documents, req)
		}
	case *network.EventLoadingFailed:
		// A request the page itself gave up on, as a navigation away does,
		// is canceled, not failed.
		if !ev.Canceled {
			tb.problems = append(tb.problems, fmt.Sprintf("%s failed (%s): %s %s", tb.requests[ev.RequestID], ev.Type, ev.ErrorText, ev.BlockedReason))
		}
	case *network.EventResponseReceived:
		if ev.Response.Status < 400 {
			return
		}
		req := tb.requests[ev.RequestID]
		for i, e := range tb.expected {
			if e.request == req && e.status == ev.Response.Status {
				tb.expected = slices.Delete(tb.expected, i, i+1)
				return
			}
		}
		tb.problems = append(tb.problems, fmt.Sprintf("%s answered %d", req, ev.Response.Status))
	}
}

// expectStatus lets the next request for method and path answer status
// (>= 400) without it counting as a failed request.
func (tb *tab) expectStatus(method, path string, status int64) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.expected = append(tb.expected, expectedStatus{method + " " + path, status})
}

// finish fails the test for anything that went wrong in the pages, and
// takes a screenshot of a failed test.
func (tb *tab) finish() {
	tb.mu.Lock()
	problems, expected := tb.problems, tb.expected
	tb.mu.Unlock()
	for _, p := range problems {
		tb.t.Error(p)
	}
	for _, e := range expected {
		tb.t.Errorf("%s was to answer %d and did not", e.request, e.status)
	}
	if tb.t.Failed() {
		tb.screenshot("failed")
	}
}

// screenshot writes the whole page to /tmp/e2e-<test>-<what>.png.
func (tb *tab) screenshot(what string) {
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Logf("screenshot: %v", err)
		return
	}
	tb.shots++
	file := filepath.Join(os.TempDir(), fmt.Sprintf("e2e-%s-%02d-%s.png", tb.name, tb.shots, shotName(what)))
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		tb.t.Logf("screenshot: %v", err)
		return
	}
	tb.t.Logf("screenshot: %s", file)
}

// snapshot is a screenshot for a person to look at, when
// TOKEND_E2E_SCREENSHOTS=1.
func (tb *tab) snapshot(what string) {
	if os.Getenv("TOKEND_E2E_SCREENSHOTS") == "1" {
		tb.screenshot(what)
	}
}

// do runs the actions as one step of the test, failing it on an error.
func (tb *tab) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v (page %s)", step, err, tb.path())
	}
}

// run is do for an action with a value.
func run[T any](tb *tab, step string, action chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		tb.t.Fatalf("%s: %v (page %s)", step, err, tb.path())
	}
	return v
}

// eval evaluates JavaScript in the page. It works with JavaScript turned
// off too: that stops the page's scripts, not the test's.
func eval[T any](tb *tab, js string) T {
	tb.t.Helper()
	return run(tb, "evaluate "+js, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// path is the address bar, path and query, or "" if it cannot be read.
func (tb *tab) path() string {
	ctx, cancel := context.WithTimeout(tb.ctx, time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return ""
	}
	u, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	return u.RequestURI()
}

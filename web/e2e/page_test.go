package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The helpers below act on the page as a person does: they find an element
// by what it says, click the middle of it with the mouse and type with the
// keyboard. They find elements with JavaScript rather than chromedp's DOM
// queries, which lose track of a page the browser restores from its
// back/forward cache (chromedp v0.23.0 takes the page's DOM.documentUpdated,
// which comes before Page.frameNavigated there, for the page it leaves).

// spot is where an element is on the screen.
type spot struct {
	X, Y float64
	// Count is how many visible elements the selector found.
	Count int
	// Covered names what is on top of the element's middle, if it is not
	// the element: a person could not click it there.
	Covered string
}

// locateJS finds the visible elements an XPath selects, scrolls the first
// into view and tells where to click it: the middle of its first box (a
// link that wraps has one box a line).
const locateJS = `((xpath) => {
	const found = document.evaluate(xpath, document, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
	const visible = [];
	for (let i = 0; i < found.snapshotLength; i++) {
		const e = found.snapshotItem(i);
		if (e.checkVisibility({visibilityProperty: true}) && e.getClientRects().length > 0) visible.push(e);
	}
	if (visible.length === 0) return null;
	const e = visible[0];
	e.scrollIntoView({block: "center", inline: "nearest"});
	const b = e.getClientRects()[0];
	const x = b.left + b.width / 2, y = b.top + b.height / 2;
	const hit = document.elementFromPoint(x, y);
	const covered = hit && (hit === e || e.contains(hit) || (e.control && e.control === hit)) ? "" : (hit ? hit.outerHTML.slice(0, 80) : "nothing");
	// The mouse goes by the visual viewport, which differs from the layout
	// one when a phone has zoomed out.
	const vv = window.visualViewport;
	return {X: (x - vv.offsetLeft) * vv.scale, Y: (y - vv.offsetTop) * vv.scale, Count: visible.length, Covered: covered};
})(%s)`

// locate waits until sel finds exactly one visible element that a person
// could click, and returns its middle.
func locate(ctx context.Context, t *chromedp.Target, sel string) (spot, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	js := fmt.Sprintf(locateJS, jsString(sel))
	var last, still *spot
	var lastErr error
	for {
		s, err := chromedp.Evaluate[*spot](js)(ctx, t)
		switch {
		case err == nil && s != nil && s.Count > 1:
			return spot{}, fmt.Errorf("%d visible elements match %s", s.Count, sel)
		case err == nil && s != nil && s.Covered == "" && still != nil && still.X == s.X && still.Y == s.Y:
			// Found where it was a tick ago: the page has stopped moving
			// (a script showing or hiding a field above it), so a click
			// lands on it.
			return *s, nil
		case err == nil && s != nil && s.Covered == "":
			still = s
		case err == nil:
			last = s
		case ctx.Err() == nil:
			lastErr = err
		}
		select {
		case <-ctx.Done():
			switch {
			case last != nil:
				return spot{}, fmt.Errorf("%s is covered by %s", sel, last.Covered)
			case lastErr != nil:
				return spot{}, fmt.Errorf("find %s: %w", sel, lastErr)
			}
			return spot{}, fmt.Errorf("no visible element matches %s", sel)
		case <-tick.C:
		}
	}
}

// clickOn is the action of clicking the middle of the element sel finds.
func clickOn(sel string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		s, err := locate(ctx, t, sel)
		if err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.MouseClickXY(s.X, s.Y)(ctx, t)
	}
}

// visit opens path as if typed into the address bar and waits for the page.
func (tb *tab) visit(path string) {
	tb.t.Helper()
	tb.do("open "+path, chromedp.Navigate(tb.base+path))
}

// find waits for the one visible element sel finds.
func (tb *tab) find(sel string) spot {
	tb.t.Helper()
	return run(tb, "find "+sel, func(ctx context.Context, t *chromedp.Target) (spot, error) { return locate(ctx, t, sel) })
}

// click clicks the element with the mouse.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.do("click "+sel, clickOn(sel))
}

// clickToLoad clicks and waits for the page it leads to.
func (tb *tab) clickToLoad(sel string) {
	tb.t.Helper()
	run(tb, "click "+sel+" and wait for the page", chromedp.WaitEvent(page.LoadEventFired, nil, clickOn(sel)))
}

// press sends keys to whatever has focus: kb.Tab, kb.Enter, text...
func (tb *tab) press(keys string) {
	tb.t.Helper()
	tb.do(fmt.Sprintf("press %q", keys), chromedp.KeyEvent(keys))
}

// pressToLoad presses keys and waits for the page they lead to.
func (tb *tab) pressToLoad(keys string) {
	tb.t.Helper()
	run(tb, fmt.Sprintf("press %q and wait for the page", keys), chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.KeyEvent(keys)))
}

// typeInto clicks into the field a label names and types text.
func (tb *tab) typeInto(label, text string) {
	tb.t.Helper()
	tb.do("type into "+label, clickOn(field(label)), chromedp.KeyEvent(text))
}

// onElement evaluates expr, an expression of the element e that sel finds.
func onElement[T any](tb *tab, sel, expr string) T {
	tb.t.Helper()
	tb.find(sel)
	return eval[T](tb, fmt.Sprintf(`((e) => %s)(document.evaluate(%s, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue)`, expr, jsString(sel)))
}

// text is the visible text of the element sel finds, its spaces collapsed.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return strings.Join(strings.Fields(onElement[string](tb, sel, `e.innerText`)), " ")
}

// value is the value of the field sel finds.
func (tb *tab) value(sel string) string {
	tb.t.Helper()
	return onElement[string](tb, sel, `e.value`)
}

// has reports whether sel finds a visible element now, without waiting.
func (tb *tab) has(sel string) bool {
	tb.t.Helper()
	return eval[bool](tb, fmt.Sprintf(`(() => {
		const found = document.evaluate(%s, document, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
		for (let i = 0; i < found.snapshotLength; i++) if (found.snapshotItem(i).checkVisibility({visibilityProperty: true})) return true;
		return false;
	})()`, jsString(sel)))
}

// waitFor waits until the JavaScript condition holds, across page loads.
func (tb *tab) waitFor(what, cond string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var err error
	for {
		var ok bool
		// A page that is being replaced has no context to evaluate in for
		// a moment: try again.
		if ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool](cond)); err == nil && ok {
			return
		}
		select {
		case <-ctx.Done():
			tb.t.Fatalf("wait for %s: %s did not hold (last error: %v) on %s", what, cond, err, tb.path())
		case <-tick.C:
		}
	}
}

// waitGone waits until sel finds no visible element.
func (tb *tab) waitGone(what, sel string) {
	tb.t.Helper()
	tb.waitFor(what, fmt.Sprintf(`(() => {
		const found = document.evaluate(%s, document, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
		for (let i = 0; i < found.snapshotLength; i++) if (found.snapshotItem(i).checkVisibility({visibilityProperty: true})) return false;
		return true;
	})()`, jsString(sel)))
}

// goHistory goes back (-1) or forward (+1) in the tab's history, as the
// browser's buttons do, and waits for the page, whether it loads again or
// comes back from the back/forward cache. It returns how it came.
func (tb *tab) goHistory(delta int64) page.NavigationType {
	tb.t.Helper()
	ev := run(tb, fmt.Sprintf("go %+d in history", delta), chromedp.WaitEvent(page.FrameNavigated,
		func(e page.EventFrameNavigated) bool { return e.Frame.ParentID == "" },
		func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
			h, err := cdp.Call(ctx, t, page.GetNavigationHistory, cdp.Empty{})
			if err != nil {
				return chromedp.Void{}, err
			}
			i := h.CurrentIndex + delta
			if i < 0 || i >= int64(len(h.Entries)) {
				return chromedp.Void{}, fmt.Errorf("no history entry %d of %d", i, len(h.Entries))
			}
			_, err = cdp.Call(ctx, t, page.NavigateToHistoryEntry, page.NavigateToHistoryEntryParams{EntryID: h.Entries[i].ID})
			return chromedp.Void{}, err
		}))
	tb.waitFor("the page to load", `document.readyState === "complete"`)
	return ev.Type
}

// accessibleName is the role and name that assistive technology is given
// for the element sel finds, as "button: Save".
func (tb *tab) accessibleName(sel string) string {
	tb.t.Helper()
	tb.find(sel)
	return tb.axName(fmt.Sprintf(`document.evaluate(%s, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue`, jsString(sel)))
}

// focused is what has the keyboard focus, as accessibleName tells it, or
// "body" when nothing does.
func (tb *tab) focused() string {
	tb.t.Helper()
	if eval[bool](tb, `!document.activeElement || document.activeElement === document.body`) {
		return "body"
	}
	return tb.axName(`document.activeElement`)
}

// axName is the role and accessible name of the element expr evaluates to.
func (tb *tab) axName(expr string) string {
	tb.t.Helper()
	obj := run(tb, "find "+expr, chromedp.Evaluate[*runtime.RemoteObject](expr))
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, accessibility.GetPartialAXTree, accessibility.GetPartialAXTreeParams{
		ObjectID: obj.ObjectID, FetchRelatives: new(false),
	})
	if err != nil {
		tb.t.Fatalf("read the accessible name of %s: %v", expr, err)
	}
	for _, n := range res.Nodes {
		if n.Role == nil {
			continue
		}
		var role, name string
		if err := json.Unmarshal(n.Role.Value, &role); err != nil {
			tb.t.Fatalf("read the role of %s: %v", expr, err)
		}
		if n.Name != nil {
			if err := json.Unmarshal(n.Name.Value, &name); err != nil {
				tb.t.Fatalf("read the name of %s: %v", expr, err)
			}
		}
		if n.Ignored {
			return "ignored " + role + ": " + name
		}
		return role + ": " + name
	}
	tb.t.Fatalf("%s is not in the accessibility tree", expr)
	return ""
}

// loads returns the pages loaded since the last call, as "GET /tokens".
func (tb *tab) loads() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	d := tb.documents
	tb.documents = nil
	return d
}

// Selectors find elements as a person does: by role and visible name, by
// label. They are XPath.

// button is a button, or a link or summary that looks like one, by its
// visible text or accessible name.
func button(name string) string {
	n := xpathString(name)
	return fmt.Sprintf(`//*[(self::button or self::a or self::summary) and (normalize-space(.)=%s or @aria-label=%s)]`, n, n)
}

// field is the input, select or checkbox that a label names.
func field(label string) string {
	return fmt.Sprintf(`//*[@id=//label[normalize-space(.)=%s]/@for]`, xpathString(label))
}

// label is a label by its text, to click as a person ticks a box.
func label(text string) string {
	return fmt.Sprintf(`//label[normalize-space(.)=%s]`, xpathString(text))
}

// menuItem is an item of the profile menu under its Organization heading.
func menuItem(text string) string {
	return fmt.Sprintf(`//*[normalize-space(.)="Organization"]/following-sibling::ul//a[normalize-space(.)=%s]`, xpathString(text))
}

// heading is a heading of any level by its text.
func heading(text string) string {
	return fmt.Sprintf(`//*[self::h1 or self::h2][normalize-space(.)=%s]`, xpathString(text))
}

// within narrows sel to the section headed by sectionHeading.
func within(sectionHeading, sel string) string {
	return fmt.Sprintf(`//section[.//h2[normalize-space(.)=%s]]%s`, xpathString(sectionHeading), sel)
}

// row is the row of a token list by the token's name.
func row(name string) string {
	return fmt.Sprintf(`//tr[th[normalize-space(.)=%s]]`, xpathString(name))
}

// dialog is the open dialog.
const dialog = `//dialog[@open]`

// xpathString quotes s as an XPath string literal.
func xpathString(s string) string {
	if !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	if !strings.Contains(s, `'`) {
		return `'` + s + `'`
	}
	parts := strings.Split(s, `"`)
	for i, p := range parts {
		parts[i] = `"` + p + `"`
	}
	return `concat(` + strings.Join(parts, `, '"', `) + `)`
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

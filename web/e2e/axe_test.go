package e2e

import (
	"os"
	"strings"
	"sync"

	"github.com/chromedp/chromedp"
)

// axe-core, vendored into the test data and put into each page by the
// test, never served to users. Update it with:
//
//	cd /tmp && npm pack axe-core && tar xzf axe-core-*.tgz && cp package/axe.min.js $OLDPWD/testdata/
var axeSource = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile("testdata/axe.min.js")
	return string(b), err
})

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// checkAccessibility runs axe-core on the page as it is now, an open dialog
// and all. A serious or critical violation fails the test; a lesser one is
// logged.
func (tb *tab) checkAccessibility(what string) {
	tb.t.Helper()
	src, err := axeSource()
	if err != nil {
		tb.t.Fatal(err)
	}
	if tb.noScript {
		// axe-core needs timers and promises, which stop with the page's
		// scripts. Turning them back on now runs none of the page's own:
		// those were skipped when it loaded.
		tb.do("let axe-core run", scriptsOff(false))
		defer tb.do("turn JavaScript off again", scriptsOff(true))
	}
	if !eval[bool](tb, `typeof window.axe === "object"`) {
		tb.do("load axe-core", chromedp.Evaluate[chromedp.Void](src))
	}
	res := eval[struct {
		Passes     int            `json:"passes"`
		Violations []axeViolation `json:"violations"`
	}](tb, `axe.run(document, {resultTypes: ["violations"]}).then(r => ({
		passes: r.passes.length,
		violations: r.violations.map(v => ({
			id: v.id, impact: v.impact || "", help: v.help,
			nodes: v.nodes.map(n => n.target.join(" ")),
		})),
	}))`)
	if res.Passes == 0 {
		tb.t.Errorf("axe-core checked nothing on %s", what)
	}
	violations := res.Violations
	for _, v := range violations {
		msg := "axe on " + what + " (" + tb.path() + "): " + v.Impact + " " + v.ID + ": " + v.Help + " at " + strings.Join(v.Nodes, ", ")
		if v.Impact == "serious" || v.Impact == "critical" {
			tb.t.Error(msg)
		} else {
			tb.t.Log(msg)
		}
	}
}

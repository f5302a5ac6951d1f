package web

import (
	"bytes"
	"net/http"
	"sync"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
)

// render writes a templ component as the response. The page is rendered in
// full before a byte is sent: a component that fails halfway returns its
// error, for the error handler to answer with an error page, rather than
// leave the browser a truncated page under a 200.
func render(c echo.Context, status int, component templ.Component) error {
	buf := renderBuffers.Get().(*bytes.Buffer)
	defer putRenderBuffer(buf)
	if err := component.Render(c.Request().Context(), buf); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// renderBuffers keep the buffers pages are rendered into, so that a page
// costs no new buffer once the server has warmed up.
var renderBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledRender is the largest buffer kept for the next page: one
// unusually large page (a long audit log) does not hold its memory for
// good.
const maxPooledRender = 256 << 10

func putRenderBuffer(buf *bytes.Buffer) {
	if buf.Cap() > maxPooledRender {
		return
	}
	buf.Reset()
	renderBuffers.Put(buf)
}

// isHTMX reports whether htmx made the request, so the answer is the
// fragment that changes rather than a whole page.
func isHTMX(c echo.Context) bool {
	return c.Request().Header.Get("HX-Request") == "true"
}

// redirect sends the browser on with a GET after a change, or, for htmx,
// tells htmx to go there.
func redirect(c echo.Context, to string) error {
	if isHTMX(c) {
		c.Response().Header().Set("HX-Redirect", to)
		return c.NoContent(http.StatusNoContent)
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// redirectSaying is redirect, with msg shown on the page it leads to (the
// session's flash message): post/redirect/get after a change.
func (s *Server) redirectSaying(c echo.Context, to, msg string) error {
	if err := s.flash(c, msg); err != nil {
		return err
	}
	return redirect(c, to)
}

// noStore keeps a response out of every cache: the browser's, its history,
// and any proxy's.
func noStore(c echo.Context) {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"tokend/store"
	"tokend/views"
)

const (
	sessionCookie = "tokend_session"
	sessionIDKey  = "sid"
	memberKey     = "member"
)

func (s *Server) session(c echo.Context) *sessions.Session {
	// A cookie that fails to decode (tampered, or from another key) gives
	// a new, empty session: the same as not signed in.
	sess, _ := s.sessions.Get(c.Request(), sessionCookie)
	sess.Options.Secure = isTLS(c)
	return sess
}

func (s *Server) saveSession(c echo.Context, sess *sessions.Session) error {
	return sess.Save(c.Request(), c.Response())
}

// signedIn returns the member signed in with this request's session: still
// in their organization, the session unexpired.
func (s *Server) signedIn(c echo.Context) (store.Member, bool, error) {
	sid, ok := s.session(c).Values[sessionIDKey].(string)
	if !ok {
		return store.Member{}, false, nil
	}
	m, err := s.db.SessionMember(c.Request().Context(), sid)
	if store.ErrorCode(err) == store.ENOTFOUND {
		return store.Member{}, false, nil
	}
	return m, err == nil, err
}

// requireMember lets a request through only for a signed-in member who is
// still in their organization, and puts the member on the context. Anyone
// else is sent to sign in, and brought back afterwards.
func (s *Server) requireMember(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		m, ok, err := s.signedIn(c)
		if err != nil {
			return err
		}
		if ok {
			c.Set(memberKey, m)
			// An organization's tokens and members stay out of caches, so
			// nothing is left behind after signing out.
			noStore(c)
			return next(c)
		}
		to := loginPath
		if r := c.Request(); r.Method == http.MethodGet && !isHTMX(c) {
			to += "?next=" + url.QueryEscape(r.URL.RequestURI())
		}
		return redirect(c, to)
	}
}

// requireOwnerTo refuses anyone but the organization owner, saying what
// only the owner can do ("manage members"). The store checks again; this
// answers early with 403 instead of a form the member cannot use.
func requireOwnerTo(what string) echo.MiddlewareFunc {
	refused := echo.NewHTTPError(http.StatusForbidden, "Only the organization owner can "+what+".")
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if m, _ := memberOf(c); !m.IsOwner() {
				return refused
			}
			return next(c)
		}
	}
}

func memberOf(c echo.Context) (store.Member, bool) {
	m, ok := c.Get(memberKey).(store.Member)
	return m, ok
}

func viewerOf(c echo.Context, m store.Member) views.Viewer {
	return views.Viewer{
		Name: m.Name, Email: m.Email, OrgName: m.OrgName,
		RoleTitles: store.RoleTitles(m.Roles), IsOwner: m.IsOwner(), CSRF: csrfToken(c),
	}
}

func (s *Server) loginPage(c echo.Context) error {
	if _, ok, _ := s.signedIn(c); ok {
		return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next")))
	}
	return render(c, http.StatusOK, views.LoginView(views.LoginPage{
		CSRF: csrfToken(c), Next: c.QueryParam("next"),
	}))
}

func (s *Server) login(c echo.Context) error {
	ctx := c.Request().Context()
	email, next := c.FormValue("email"), c.FormValue("next")
	page := views.LoginPage{CSRF: csrfToken(c), Email: email, Next: next}

	// Guessing is slowed per address and per account; past either limit the
	// password is not even looked at. The account is the email as typed, so
	// the limit says nothing about whether it exists.
	ip, account, now := c.RealIP(), strings.ToLower(strings.TrimSpace(email)), time.Now()
	if wait := max(s.signInByAddr.retryAfter(ip, now), s.signInByAccount.retryAfter(account, now)); wait > 0 {
		secs := retryAfterSeconds(wait)
		c.Response().Header().Set(echo.HeaderRetryAfter, strconv.Itoa(secs))
		page.Error = fmt.Sprintf("Too many failed sign-ins. Try again in %d seconds.", secs)
		return render(c, http.StatusTooManyRequests, views.LoginView(page))
	}
	m, err := s.db.Authenticate(ctx, email, c.FormValue("password"))
	if errors.Is(err, store.ErrBadCredentials) {
		s.signInByAddr.fail(ip, now)
		s.signInByAccount.fail(account, now)
		page.Error = store.ErrorMessage(err)
		return render(c, http.StatusUnauthorized, views.LoginView(page))
	} else if err != nil {
		return err
	}

	if err := s.startSession(c, m.ID, ""); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, safeNext(next))
}

// startSession signs the browser in as the member: a new session on every
// sign-in, so whatever session id the browser held before, perhaps planted,
// is ended and never becomes signed in. flash, if any, is the first thing
// the next page says.
func (s *Server) startSession(c echo.Context, memberID int64, flash string) error {
	ctx := c.Request().Context()
	sess := s.session(c)
	if old, ok := sess.Values[sessionIDKey].(string); ok {
		if err := s.db.DeleteSession(ctx, old); err != nil {
			return err
		}
	}
	sid, err := s.db.CreateSession(ctx, memberID)
	if err != nil {
		return err
	}
	sess.Values = map[any]any{sessionIDKey: sid}
	if flash != "" {
		sess.AddFlash(flash)
	}
	if err := s.saveSession(c, sess); err != nil {
		return err
	}
	s.expireCSRFCookie(c)
	return nil
}

func (s *Server) logout(c echo.Context) error {
	sess := s.session(c)
	if sid, ok := sess.Values[sessionIDKey].(string); ok {
		if err := s.db.DeleteSession(c.Request().Context(), sid); err != nil {
			return err
		}
	}
	sess.Values = map[any]any{}
	sess.Options.MaxAge = -1
	if err := s.saveSession(c, sess); err != nil {
		return err
	}
	s.expireCSRFCookie(c)
	return redirect(c, loginPath)
}

// expireCSRFCookie makes the next page draw a fresh CSRF token, so a token
// seen before a sign-in or sign-out is worth nothing after it.
func (s *Server) expireCSRFCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{Name: csrfCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: isTLS(c)})
}

// safeNext returns where to go after signing in: a path on this server, or
// the Token Management page. Never another site.
//
// The path is returned as given, never re-encoded: decoding and encoding
// again can turn "/%2F…" into "//…", which a browser reads as another host.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\") || strings.ContainsFunc(next, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) ||
		u.Scheme != "" || u.Host != "" || strings.HasPrefix(u.Path, "//") || strings.HasPrefix(next, loginPath) {
		return tokensRoot
	}
	return next
}

// flash keeps a one-line message for the next page the member sees.
func (s *Server) flash(c echo.Context, msg string) error {
	sess := s.session(c)
	sess.AddFlash(msg)
	return s.saveSession(c, sess)
}

// takeFlash returns the waiting message, if any, and forgets it.
func (s *Server) takeFlash(c echo.Context) (string, error) {
	sess := s.session(c)
	flashes := sess.Flashes()
	if len(flashes) == 0 {
		return "", nil
	}
	msg, _ := flashes[len(flashes)-1].(string)
	return msg, s.saveSession(c, sess)
}

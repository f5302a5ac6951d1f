package web

import (
	"net/http"
	"net/url"
	"testing"
)

// A browser that sends Sec-Fetch-Site is judged by it: its own pages' posts
// go through without the token (the forms carry Echo's placeholder then),
// and a post from a sibling site is refused even with a good token.
func TestCSRFBySecFetchSite(t *testing.T) {
	tests := []struct {
		site   string
		token  bool
		status int
	}{
		{"same-origin", false, http.StatusCreated},
		{"none", false, http.StatusCreated},
		{"same-site", true, http.StatusForbidden},
		{"cross-site", true, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.site, func(t *testing.T) {
			app := newTestApp(t)
			c := app.signIn(app.member)
			form := url.Values{"name": {"via " + tt.site}}
			if !tt.token {
				form.Set("_csrf", "")
			}
			r := c.postRaw("/tokens/personal", withCSRF(form, c.csrf, tt.token), "Sec-Fetch-Site", tt.site)
			if r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", r.StatusCode, tt.status)
			}
			made := r.StatusCode == http.StatusCreated
			if got := len(app.allTokens(app.owner)) == 1; got != made {
				t.Errorf("a token was made: %v, want %v", got, made)
			}
		})
	}
}

func withCSRF(form url.Values, token string, include bool) url.Values {
	if include {
		form.Set("_csrf", token)
	} else {
		form.Del("_csrf")
	}
	return form
}

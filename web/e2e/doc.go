// Package e2e holds tokend's real-browser tests: the real server on a
// loopback port, driven through Chromium with chromedp as a person uses it.
// It has no code of its own; it is a package of its own so that chromedp
// stays out of the other test binaries.
package e2e

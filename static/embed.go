// Package static holds the files the server sends as they are: the style
// sheet, the page script, the vendored htmx and the icon.
package static

import "embed"

// FS is every file in this folder, compiled into the binary.
//
//go:embed *.css *.js *.svg
var FS embed.FS

// Package templates embeds Gatehouse's HTML templates: one base layout,
// partials shared by pages, and one file per page. Package web parses them.
package templates

import "embed"

// FS holds layouts/, partials/ and pages/. The .go file itself is not
// embedded.
//
//go:embed layouts partials pages
var FS embed.FS

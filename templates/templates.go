// Package templates embeds Gatehouse's HTML templates: one base layout,
// partials shared by pages, and one file per page. Package web parses them.
package templates

import "embed"

// FS holds layouts/, partials/ and pages/ (web pages) and mail/ (the
// mails, internal/account). The .go file itself is not
// embedded.
//
//go:embed layouts partials pages mail
var FS embed.FS

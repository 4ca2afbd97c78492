package web

import "strings"

// ownScript is the one script element pages carry (templates/layouts).
const ownScript = `<script src="/static/js/passkey.js" defer></script>`

// withoutOwnScript is body without the app's own script element, so that
// a test can look for any other.
func withoutOwnScript(body string) string { return strings.ReplaceAll(body, ownScript, "") }

// Package static embeds the stylesheet, images and script served under /static/.
package static

import "embed"

// FS holds css/, img/ and js/ only, so this file is not downloadable.
//
//go:embed css img js
var FS embed.FS

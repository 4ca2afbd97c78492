// Package static embeds the stylesheet and images served under /static/.
package static

import "embed"

// FS holds css/ and img/ only, so this file is not downloadable.
//
//go:embed css img
var FS embed.FS

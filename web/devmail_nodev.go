//go:build !dev

package web

import "github.com/go-chi/chi/v5"

// devMailRoutes serves nothing outside dev builds.
func devMailRoutes(chi.Router, *renderer, DevMailbox) {}

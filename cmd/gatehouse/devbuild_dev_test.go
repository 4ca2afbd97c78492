//go:build dev

package main

// Dev builds start an SMTP server inside the app when SMTP_URL is empty,
// and serve /dev/mail: the browser tests read mail there.
func init() { devBuild = true }

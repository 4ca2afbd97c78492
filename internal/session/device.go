package session

import "strings"

// Device names the browser and system of a User-Agent for people, such as
// "Chrome on Linux". It is a few ordered substring checks, not a full
// parser: enough to tell one's own sessions apart.
func Device(ua string) string {
	if len(ua) > 512 {
		ua = ua[:512]
	}
	if ua == "" {
		return "Unknown device"
	}
	browser := "Unknown browser"
	for _, b := range browsers {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	system := ""
	for _, s := range systems {
		if strings.Contains(ua, s.token) {
			system = s.name
			break
		}
	}
	if system == "" {
		return browser
	}
	return browser + " on " + system
}

// browsers and systems are what Device looks for in a User-Agent, in
// order: the first match names the browser, and the system.
var (
	browsers = []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chromium/", "Chromium"},
		{"HeadlessChrome/", "Headless Chrome"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"},
		{"curl/", "curl"}, {"Go-http-client/", "Go HTTP client"}, {"python-requests/", "Python requests"},
	}
	systems = []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"CrOS", "ChromeOS"},
		{"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"Macintosh", "macOS"}, {"Linux", "Linux"},
	}
)

// devices lists every description Device can return, so that a stored
// session keeps its device as one byte: its index here plus one.
var devices = func() []string {
	out := []string{"Unknown device"}
	names := []string{"Unknown browser"}
	for _, b := range browsers {
		names = append(names, b.name)
	}
	for _, b := range names {
		out = append(out, b)
		seen := map[string]bool{}
		for _, s := range systems {
			if !seen[s.name] {
				seen[s.name] = true
				out = append(out, b+" on "+s.name)
			}
		}
	}
	return out
}()

// deviceCode returns the byte that stands for d (devices), or 0 if d is
// not one of them.
func deviceCode(d string) byte {
	for i, x := range devices {
		if x == d {
			return byte(i + 1)
		}
	}
	return 0
}

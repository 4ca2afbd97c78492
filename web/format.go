package web

import (
	"html/template"
	"strconv"
	"time"
)

// when formats a time for people, in UTC, with the zone spelt out:
// "29 November 2026, 08:22 UTC", or "unknown" for the zero time.
func when(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2 January 2006, 15:04 MST")
}

// humanDuration writes whole hours and minutes as people say them: 30m0s
// as "30 minutes", 720h as "30 days"; anything else as Go writes it.
func humanDuration(d time.Duration) string {
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.Itoa(n) + " " + unit + "s"
	}
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return plural(int(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return plural(int(d/time.Minute), "minute")
	default:
		return d.String()
	}
}

// day is t's calendar day in UTC, at midnight.
func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// shortWhen writes t for a table or a list, relative to today (a UTC
// midnight, day): "today 08:22", "yesterday 17:05", "tomorrow 08:00",
// "29 Nov" this year, "29 Nov 2025" another; "unknown" for the zero time.
func shortWhen(t, today time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	t = t.UTC()
	switch d := day(t); {
	case d.Equal(today):
		return "today " + t.Format("15:04")
	case d.Equal(today.AddDate(0, 0, -1)):
		return "yesterday " + t.Format("15:04")
	case d.Equal(today.AddDate(0, 0, 1)):
		return "tomorrow " + t.Format("15:04")
	case t.Year() == today.Year():
		return t.Format("2 Jan")
	default:
		return t.Format("2 Jan 2006")
	}
}

// timeTag is a <time> element for t: its short form relative to today,
// with the machine-readable time in datetime and the full date and time
// (when) in title. Everything in it comes from the time itself: nothing
// from outside reaches the HTML.
func timeTag(t, today time.Time) template.HTML {
	if t.IsZero() {
		return "unknown"
	}
	return template.HTML(`<time datetime="` + t.UTC().Format(time.RFC3339) + `" title="` + when(t) + `">` +
		shortWhen(t, today) + `</time>`)
}

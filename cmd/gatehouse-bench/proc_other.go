//go:build !linux

package main

import (
	"errors"
	"syscall"
	"time"
)

var errNoProc = errors.New("peak RSS is read from /proc, which only Linux has")

// childAttr puts the app in its own process group.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func memory(int) (rss, peak int64, err error) { return 0, 0, errNoProc }

func resetPeak(int) error { return errNoProc }

func loadAverage() string { return "unknown" }

func cpuTime(int) (time.Duration, error) { return 0, errNoProc }

//go:build dev

package main

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/embedded"
	"github.com/gatehouse/gatehouse/web"
)

func init() {
	embeddedServices = startEmbedded
	embeddedMail = startEmbeddedMail
}

// startEmbeddedMail starts the in-memory SMTP server and points
// cfg.SMTPURL at it.
func startEmbeddedMail(ctx context.Context, cfg *config.Config, logger *slog.Logger) (web.DevMailbox, func(), error) {
	s, err := embedded.StartSMTP(ctx, 0, logger)
	if err != nil {
		return nil, nil, err
	}
	cfg.SMTPURL = s.URL
	return devMailbox{s}, func() { _ = s.Stop() }, nil
}

// devMailbox shows the embedded SMTP server's messages on /dev/mail.
type devMailbox struct{ s *embedded.SMTP }

func (d devMailbox) DevMessages() []web.DevMessage {
	msgs := d.s.Messages()
	out := make([]web.DevMessage, len(msgs))
	for i, m := range msgs {
		out[i] = web.DevMessage{ID: m.ID, At: m.At, From: m.From, To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML}
	}
	return out
}

// startEmbedded starts Redis and FerretDB under cfg.DataDir for the settings
// left empty, and points cfg at them.
func startEmbedded(ctx context.Context, cfg *config.Config, logger *slog.Logger) (func(), error) {
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	if cfg.RedisURL == "" && len(cfg.RedisSentinelAddrs) == 0 && len(cfg.RedisClusterAddrs) == 0 {
		r, err := embedded.StartRedis(ctx, filepath.Join(cfg.DataDir, "redis"), logger)
		if err != nil {
			return nil, err
		}
		stops = append(stops, func() { _ = r.Stop() })
		cfg.RedisURL = r.URL
		if !r.Persistent {
			logger.Warn("redis-server is not installed: using an in-memory Redis; sessions will NOT survive a restart (apt-get install redis-server to keep them)", "url", r.URL)
		}
	}
	if cfg.MongoURI == "" {
		m, err := embedded.StartMongo(ctx, filepath.Join(cfg.DataDir, "ferretdb"), 0, logger)
		if err != nil {
			stop()
			return nil, err
		}
		stops = append(stops, func() { _ = m.Stop() })
		cfg.MongoURI = m.URI
	}
	return stop, nil
}

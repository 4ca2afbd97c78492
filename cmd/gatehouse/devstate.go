package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/joho/godotenv"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/mongo"
)

// devStateFile is where a development server that started embedded
// services records their addresses, so that `gatehouse user ...` run
// beside it talks to the same servers instead of starting its own on the
// same files.
func devStateFile(cfg *config.Config) string {
	return filepath.Join(cfg.DataDir, "dev-services.env")
}

func writeDevState(cfg *config.Config) (remove func(), err error) {
	path := devStateFile(cfg)
	env := map[string]string{"REDIS_URL": cfg.RedisURL, "MONGO_URI": cfg.MongoURI}
	if err := godotenv.Write(env, path); err != nil {
		return nil, fmt.Errorf("record dev services: %w", err)
	}
	return func() { _ = os.Remove(path) }, nil
}

// devServices fills in an empty REDIS_URL or MONGO_URI for a command in
// development: from a running dev server's state file if it answers, or
// else by starting the embedded services for the command's duration.
func devServices(ctx context.Context, cfg *config.Config, logger *slog.Logger) (stop func(), err error) {
	if embeddedServices == nil {
		return nil, errors.New("REDIS_URL and MONGO_URI must be set in this build")
	}
	if env, err := godotenv.Read(devStateFile(cfg)); err == nil && env["MONGO_URI"] != "" {
		if c, err := mongo.Connect(ctx, env["MONGO_URI"], time.Second); err == nil {
			_ = c.Disconnect(context.Background())
			if cfg.RedisURL == "" {
				cfg.RedisURL = env["REDIS_URL"]
			}
			if cfg.MongoURI == "" {
				cfg.MongoURI = env["MONGO_URI"]
			}
			return func() {}, nil
		}
		logger.Warn("ignoring a stale dev-services.env: its servers do not answer")
	}
	return embeddedServices(ctx, cfg, logger)
}

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
	"github.com/gatehouse/gatehouse/internal/datalock"
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

// removeDevState removes the state file; only the holder of the data
// folder's lock may.
func removeDevState(cfg *config.Config) { _ = os.Remove(devStateFile(cfg)) }

// devServices fills in an empty REDIS_URL or MONGO_URI for a command in
// development. When a development server holds the data folder, the
// command uses that server's services, from its state file. When nothing
// holds it, the command takes the folder's lock and starts the embedded
// services for its duration. When another command holds it, it refuses,
// naming that command.
func devServices(ctx context.Context, cfg *config.Config, logger *slog.Logger, command string) (stop func(), err error) {
	if embeddedServices == nil {
		return nil, errors.New("REDIS_URL and MONGO_URI must be set in this build")
	}
	lock, err := datalock.Acquire(cfg.DataDir, datalock.Holder{PID: os.Getpid(), Command: command, Started: time.Now()})
	if err == nil {
		stop, err := embeddedServices(ctx, cfg, logger)
		if err != nil {
			_ = lock.Release()
			return nil, err
		}
		return func() { stop(); _ = lock.Release() }, nil
	}
	inUse, ok := errors.AsType[*datalock.InUseError](err)
	if !ok || inUse.Holder.Command != "serve" {
		return nil, err
	}
	env, err := godotenv.Read(devStateFile(cfg))
	if err != nil || env["MONGO_URI"] == "" {
		return nil, fmt.Errorf("the development server that holds data folder %s (pid %d) has not recorded its services yet: try again once it listens",
			cfg.DataDir, inUse.Holder.PID)
	}
	c, err := mongo.Connect(ctx, env["MONGO_URI"], time.Second)
	if err != nil {
		return nil, fmt.Errorf("the development server that holds data folder %s (pid %d) does not answer: %w", cfg.DataDir, inUse.Holder.PID, err)
	}
	_ = c.Disconnect(context.Background())
	if cfg.RedisURL == "" {
		cfg.RedisURL = env["REDIS_URL"]
	}
	if cfg.MongoURI == "" {
		cfg.MongoURI = env["MONGO_URI"]
	}
	return func() {}, nil
}

package main

import (
	"github.com/joho/godotenv"
)

// withDotEnv adds the values of ./.env in development. The real environment
// always wins: .env only fills in what is not set, and production never
// reads the file.
func withDotEnv(getenv func(string) string) func(string) string {
	if env := getenv("APP_ENV"); env != "" && env != "development" {
		return getenv
	}
	file, err := godotenv.Read(".env")
	if err != nil {
		return getenv // no .env: nothing to add
	}
	return func(key string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return file[key]
	}
}

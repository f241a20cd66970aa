// Package config reads storybot's settings from environment variables, each
// of which a command-line flag of the same meaning can override.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of a storybot process.
type Config struct {
	// Addr is the HTTP listen address (STORYBOT_ADDR).
	Addr string
	// Env is "development" or "production" (STORYBOT_ENV).
	Env string
	// DataDir holds the embedded SQLite database (STORYBOT_DATA_DIR).
	DataDir string
	// DatabaseURL selects Postgres when set (DATABASE_URL).
	DatabaseURL string
	// ShutdownTimeout bounds the graceful shutdown (STORYBOT_SHUTDOWN_TIMEOUT).
	ShutdownTimeout time.Duration
}

// setting is one variable: its environment name, flag name, default and help.
type setting struct {
	env, flag, def, help string
}

// Production reports whether the process runs with STORYBOT_ENV=production.
func (c Config) Production() bool { return c.Env == "production" }

// Load reads the configuration from getenv and then args (flags win).
// Output for -h goes to out.
func Load(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("storybot", flag.ContinueOnError)
	fs.SetOutput(out)

	str := func(p *string, s setting) {
		v := getenv(s.env)
		if v == "" {
			v = s.def
		}
		fs.StringVar(p, s.flag, v, s.help+" ("+s.env+")")
	}
	var shutdown string
	str(&c.Addr, setting{"STORYBOT_ADDR", "addr", ":8080", "HTTP listen address"})
	str(&c.Env, setting{"STORYBOT_ENV", "env", "development", "development or production"})
	str(&c.DataDir, setting{"STORYBOT_DATA_DIR", "data-dir", "./data", "directory of the embedded SQLite database"})
	str(&c.DatabaseURL, setting{"DATABASE_URL", "database-url", "", "postgres:// URL; empty for the embedded SQLite database"})
	str(&shutdown, setting{"STORYBOT_SHUTDOWN_TIMEOUT", "shutdown-timeout", "15s", "how long a graceful shutdown may take"})

	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("config: unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	var errs []error
	if c.Env != "development" && c.Env != "production" {
		errs = append(errs, fmt.Errorf("STORYBOT_ENV must be development or production, not %q", c.Env))
	}
	var err error
	if c.ShutdownTimeout, err = duration(shutdown); err != nil {
		errs = append(errs, fmt.Errorf("STORYBOT_SHUTDOWN_TIMEOUT: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// duration parses a Go duration ("15s") or a number of seconds ("15").
func duration(s string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if n < 0 {
			return 0, errors.New("must not be negative")
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 15s", s)
	}
	if d < 0 {
		return 0, errors.New("must not be negative")
	}
	return d, nil
}

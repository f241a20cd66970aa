// Package sample holds every way of writing a log key that
// TestLogKeysInSource must see; TestScanLogKeysSample checks it does.
package sample

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
)

const keyConst = "from.const"

func logs(ctx context.Context, log *slog.Logger, w http.ResponseWriter, dynamic string) {
	log.Info("constructors", slog.String("a.string", "v"), slog.Int(keyConst, 1))
	log.InfoContext(ctx, "key-value", "kv.one", 1, slog.Bool("kv.attr", true), "kv.two", "x")
	log.Log(ctx, slog.LevelInfo, "log", "log.kv", 2)
	log = log.With("with.kv", 3, slog.String("with.attr", "y"))
	log.LogAttrs(ctx, slog.LevelWarn, "group", slog.Group("outer", slog.String("inner", "z"), slog.Group("deeper", slog.Int("leaf", 1))))
	_ = slog.Attr{Key: "literal.attr", Value: slog.StringValue("v")}
	slog.Warn("package function", "pkg.kv", 4)
	http.Error(w, "not a log key", http.StatusTeapot)
	_ = errors.New("not a log key either")
	log.Info("unreadable", slog.String(dynamic, "v"))
	log.WithGroup("grouped").Info("a prefix the scan cannot follow")
	_ = log.Handler().WithGroup(dynamic)
}

package inlet

import (
	"context"
	"fmt"
	"log/slog"
)

// Level is a log level of the host's log import.
type Level uint8

const (
	LevelTrace Level = iota
	LevelDebug
	LevelInfo
	LevelWarn
	LevelError
)

// Log writes one line to the host's log (tagged with the connector and sync, rate-limited).
func Log(level Level, message string) { hostLog(level, message) }

// Debugf, Infof, Warnf and LogErrorf log a formatted line at their level.
func Debugf(format string, args ...any)    { hostLog(LevelDebug, fmt.Sprintf(format, args...)) }
func Infof(format string, args ...any)     { hostLog(LevelInfo, fmt.Sprintf(format, args...)) }
func Warnf(format string, args ...any)     { hostLog(LevelWarn, fmt.Sprintf(format, args...)) }
func LogErrorf(format string, args ...any) { hostLog(LevelError, fmt.Sprintf(format, args...)) }

// Logger is a log/slog logger writing to the host's log (attributes appended as key=value).
var Logger = slog.New(hostHandler{})

type hostHandler struct {
	attrs []slog.Attr
	group string
}

func (hostHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h hostHandler) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	add := func(a slog.Attr) bool {
		key := a.Key
		if h.group != "" {
			key = h.group + "." + key
		}
		msg += fmt.Sprintf(" %s=%v", key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	level := LevelInfo
	switch {
	case r.Level < slog.LevelDebug:
		level = LevelTrace
	case r.Level < slog.LevelInfo:
		level = LevelDebug
	case r.Level < slog.LevelWarn:
		level = LevelInfo
	case r.Level < slog.LevelError:
		level = LevelWarn
	default:
		level = LevelError
	}
	hostLog(level, msg)
	return nil
}

func (h hostHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h.attrs = append(append([]slog.Attr{}, h.attrs...), attrs...)
	return h
}

func (h hostHandler) WithGroup(name string) slog.Handler {
	if h.group != "" {
		name = h.group + "." + name
	}
	h.group = name
	return h
}

// State is small per-connector key/value storage that survives restarts (checkpoints,
// caches); values are capped in size by the host.
var State stateStore

type stateStore struct{}

// Get returns the value of key, if set.
func (stateStore) Get(key string) (string, bool) { return hostStateGet(key) }

// Set stores value under key; the host may refuse (e.g. too large).
func (stateStore) Set(key, value string) error {
	if err := hostStateSet(key, value); err != nil {
		return err
	}
	return nil
}

// Delete removes key.
func (stateStore) Delete(key string) { hostStateDelete(key) }

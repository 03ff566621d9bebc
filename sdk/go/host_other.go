//go:build !wasip1

package inlet

import (
	"fmt"
	"os"
)

// Outside a component (go test on the build machine) logs go to stderr and state lives in memory.

var levelNames = [...]string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR"}

func hostLog(level Level, message string) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", levelNames[level%5], message)
}

var memState = map[string]string{}

func hostStateGet(key string) (string, bool) { v, ok := memState[key]; return v, ok }

func hostStateSet(key, value string) *Error { memState[key] = value; return nil }

func hostStateDelete(key string) { delete(memState, key) }

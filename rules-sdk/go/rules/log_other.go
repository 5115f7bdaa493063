//go:build !wasip1

package rules

import (
	"fmt"
	"os"
)

// hostLog prints to stderr when a rule runs natively (unit tests).
func hostLog(msg string) {
	fmt.Fprintln(os.Stderr, msg)
}

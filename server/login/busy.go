package login

import (
	"net/http"
	"strconv"

	"github.com/authgraph/authgraph/passwords"
)

// msgBusy answers a request whose password hash found no turn in time
// (passwords.ErrBusy): nothing is wrong with what the user typed.
const msgBusy = "We are very busy right now. Please try again in a moment."

// retryLater marks a busy answer: 503 with Retry-After, so that clients
// and proxies back off instead of hammering the login page.
func retryLater(w http.ResponseWriter) int {
	w.Header().Set("Retry-After", strconv.Itoa(int(passwords.BusyRetryAfter.Seconds())))
	return http.StatusServiceUnavailable
}

package server

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// minKeyRotation is the shortest signing key rotation period: a successor is
// published oidc.DefaultPublishAhead (a day) before it signs, so a period
// shorter than twice that would keep two keys ahead of the active one.
const minKeyRotation = 48 * time.Hour

// parseKeyRotation reads --signing-key-rotation / AUTHGRAPH_SIGNING_KEY_ROTATION:
// "off" (or empty, the default) or a period of at least two days, as a Go
// duration ("2160h") or a number of days ("90d").
func parseKeyRotation(raw string) (time.Duration, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || raw == "off" {
		return 0, nil
	}
	var v time.Duration
	var err error
	if days, ok := strings.CutSuffix(raw, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		if err == nil && (n < 0 || n > 10000) {
			err = fmt.Errorf("out of range")
		}
		v = time.Duration(n) * 24 * time.Hour
	} else {
		v, err = time.ParseDuration(raw)
	}
	if err != nil || v < minKeyRotation {
		return 0, fmt.Errorf("AUTHGRAPH_SIGNING_KEY_ROTATION: %q is not off or a period of at least 2d (e.g. 90d or 2160h)", raw)
	}
	return v, nil
}

// keyRotationCheck is how often every node runs the signing key rotation
// schedule: a successor is stored once (oidc.KeySet.RotateIfDue), a day
// before it signs, so checking each minute is plenty.
const keyRotationCheck = time.Minute

// keyRotationLoop runs the signing key rotation schedule until ctx ends;
// nothing when rotation is off.
func keyRotationLoop(ctx context.Context, d *Deps) {
	if d.Keys.RotationPeriod <= 0 {
		return
	}
	t := time.NewTicker(keyRotationCheck)
	defer t.Stop()
	for {
		if changed, err := d.Keys.RotateIfDue(ctx); err != nil && ctx.Err() == nil {
			d.Logger.Error("signing key rotation", slog.Any("error", err))
		} else if changed {
			d.Logger.Info("signing keys: scheduled rotation step done (successor published or predecessor retired)")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

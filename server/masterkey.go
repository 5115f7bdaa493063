package server

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/authgraph/authgraph/secretbox"
)

// loadMasterKeys returns the master keys from AUTHGRAPH_MASTER_KEY (the
// current key, then any previous ones still needed to open what they
// sealed), or for a SQLite database without one, from (or into) the file
// PATH.key beside it, which holds the same comma-separated list.
func loadMasterKeys(cfg *Config, sqlitePath string, logger *slog.Logger) ([][]byte, error) {
	if cfg.MasterKey != "" {
		keys, err := secretbox.ParseKeys(strings.TrimSpace(cfg.MasterKey))
		if err != nil {
			return nil, fmt.Errorf("AUTHGRAPH_MASTER_KEY: %w", err)
		}
		return keys, nil
	}
	if sqlitePath == "" {
		return nil, errors.New("AUTHGRAPH_MASTER_KEY is required with Postgres (32 random bytes in standard base64, e.g. `openssl rand -base64 32`); every node sharing the database needs the same key")
	}
	path := sqlitePath + ".key"
	if b, err := os.ReadFile(path); err == nil {
		keys, err := secretbox.ParseKeys(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("master key file %s: %w", path, err)
		}
		return keys, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key := secretbox.NewKey()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("writing generated master key: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		return nil, err
	}
	logger.Warn("no AUTHGRAPH_MASTER_KEY: generated one into a file beside the database; back it up with the database and set AUTHGRAPH_MASTER_KEY in production",
		"path", path)
	return [][]byte{key}, nil
}

package rulecli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/authgraph/authgraph/connectors/customdb"
	"github.com/authgraph/authgraph/rules"
)

// scriptEvent is one custom-database script call, the input the server
// gives on_script (rules-sdk/ABI.md).
type scriptEvent struct {
	Op         string         `json:"op"`
	Args       map[string]any `json:"args"`
	Connection string         `json:"connection"`
}

// testScript runs a custom-database script once on the call in opts.Event
// (or the built-in get_user sample) through the connector the server uses,
// against opts.DSN. A typed error the script returns (wrong_credentials,
// user_exists…) is a result; a trap, a limit or an invalid result is the
// returned error.
func testScript(ctx context.Context, modulePath string, module []byte, opts TestOptions, w io.Writer) error {
	raw, eventName, err := readEvent(opts.Event, customDBSampleEvent)
	if err != nil {
		return err
	}
	var ev scriptEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return fmt.Errorf("event %s: %w", eventName, err)
	}
	if !slices.Contains(customdb.Ops, ev.Op) {
		return fmt.Errorf("event %s: op %q is not one of %s", eventName, ev.Op, strings.Join(customdb.Ops, ", "))
	}
	if ev.Args == nil {
		ev.Args = map[string]any{}
	}
	ev.Connection = orElse(ev.Connection, "legacy-db")

	eng, err := rules.New(ctx, rules.Config{CacheDir: cacheDir()})
	if err != nil {
		return err
	}
	defer eng.Close(ctx)
	start := time.Now()
	if err := eng.ValidateScript(ctx, module); err != nil {
		return err
	}
	validated := time.Since(start)
	conn, err := customdb.New(customdb.Config{
		Name: ev.Connection, Version: "test", Engine: eng, DSN: opts.DSN,
		Scripts: map[string][]byte{ev.Op: module},
	})
	if err != nil {
		return fmt.Errorf("--dsn: %w", err)
	}
	defer conn.Close()

	name := strings.TrimSuffix(filepath.Base(modulePath), ".wasm")
	fmt.Fprintf(w, "script    %s (%s, %s, custom-database script ABI v1)\n", name, modulePath, humanBytes(len(module)))
	fmt.Fprintf(w, "event     %s\n", eventName)
	args, _ := json.Marshal(ev.Args)
	fmt.Fprintf(w, "call      %s %s on connection %s\n", ev.Op, redactArgs(args), ev.Connection)
	if opts.DSN == "" {
		fmt.Fprintln(w, "database  none: db_query and db_exec fail (give --dsn to reach yours)")
	} else {
		fmt.Fprintln(w, "database  from --dsn")
	}
	out, err := conn.Run(ctx, ev.Op, ev.Args)
	fmt.Fprintf(w, "logs      %d line(s)\n", len(out.Logs))
	for _, l := range out.Logs {
		fmt.Fprintf(w, "  | %s\n", l)
	}
	if err != nil {
		fmt.Fprintf(w, "error     %v\n", err)
		return err
	}
	if e := out.Err; e != nil {
		fmt.Fprintf(w, "result    error %s\n", e.Error())
	} else {
		fmt.Fprintf(w, "result    %s\n", out.Result)
	}
	fmt.Fprintf(w, "timing    validate+compile %s · call %s · limit %s\n", round(validated), round(out.Duration), customdb.DefaultTimeout)
	return nil
}

// redactArgs hides the passwords of a call's arguments in what is printed.
func redactArgs(args []byte) string {
	var m map[string]any
	if json.Unmarshal(args, &m) != nil {
		return string(args)
	}
	redact(m)
	b, _ := json.Marshal(m)
	return string(b)
}

func redact(m map[string]any) {
	for k, v := range m {
		switch v := v.(type) {
		case map[string]any:
			redact(v)
		case string:
			if strings.Contains(k, "password") {
				m[k] = "[redacted]"
			}
		}
	}
}

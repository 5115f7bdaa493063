// Command gensdk writes rules-sdk/sdk.txtar (go generate ./rules-sdk).
package main

import (
	"flag"
	"log"
	"os"

	"github.com/authgraph/authgraph/rules-sdk/internal/sdkarchive"
)

func main() {
	root := flag.String("root", ".", "the rules-sdk directory")
	out := flag.String("o", "sdk.txtar", "output archive")
	flag.Parse()
	data, err := sdkarchive.Collect(*root)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		log.Fatal(err)
	}
}

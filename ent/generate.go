// Package ent holds the generated ent client; schema/ is hand-written.
package ent

//go:generate go run -mod=mod entc.go

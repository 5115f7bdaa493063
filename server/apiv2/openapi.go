package apiv2

import (
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The OpenAPI 3.1 document is generated from the route table and the Go
// types of each route's query, body and response, so what it describes is
// what is served.

func (a *API) docRoutes() []*Route {
	return []*Route{{
		Method: http.MethodGet, Path: "/openapi.json",
		Summary:     "This API's OpenAPI 3.1 document",
		Description: "Served without a token: it describes the endpoints, not the tenant's data.",
		Handle: func(r *Request) (any, error) {
			return json.RawMessage(a.OpenAPI()), nil
		},
	}}
}

// openapiDoc is an API's document, built once: per API, since its servers
// and token URL name the API's own issuer.
type openapiDoc struct {
	once sync.Once
	doc  []byte
}

// OpenAPI returns the OpenAPI 3.1 document of the served endpoints.
func (a *API) OpenAPI() []byte {
	a.doc.once.Do(func() { a.doc.doc, _ = json.MarshalIndent(a.openapi(), "", "  ") })
	return a.doc.doc
}

func (a *API) openapi() map[string]any {
	g := &schemaGen{defs: map[string]any{}}
	paths := map[string]map[string]any{}
	scopes := map[string]string{}
	for _, rt := range a.routes {
		op := map[string]any{
			"operationId": operationID(rt),
			"summary":     rt.Summary,
		}
		if rt.Description != "" {
			op["description"] = rt.Description
		}
		if tag := strings.SplitN(strings.Trim(rt.Path, "/"), "/", 2)[0]; tag != "" {
			op["tags"] = []string{tag}
		}
		var params []map[string]any
		for _, seg := range rt.segs {
			if strings.HasPrefix(seg, "{") {
				params = append(params, map[string]any{"name": strings.Trim(seg, "{}"), "in": "path", "required": true,
					"schema": map[string]any{"type": "string"}})
			}
		}
		params = append(params, queryParams(rt.Query)...)
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.Body != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.Body))}}}
		}
		status := rt.Status
		if status == 0 {
			status = http.StatusOK
		}
		resp := map[string]any{"description": http.StatusText(status)}
		if rt.Response != nil {
			resp["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.Response))}}
		}
		responses := map[string]any{itoa(status): resp}
		for _, e := range []int{400, 401, 403, 404, 409, 429} {
			responses[itoa(e)] = map[string]any{"$ref": "#/components/responses/" + itoa(e)}
		}
		op["responses"] = responses
		if rt.Path != "/openapi.json" {
			// One security requirement holding every scope when all are
			// needed; one requirement per scope when any will do.
			sec := []map[string]any{{"oauth2": orEmpty(rt.Scopes)}}
			if !rt.AllScopes && len(rt.Scopes) > 1 {
				sec = nil
				for _, s := range rt.Scopes {
					sec = append(sec, map[string]any{"oauth2": []string{s}})
				}
			}
			op["security"] = sec
			for _, s := range rt.Scopes {
				scopes[s] = s
			}
		}
		p := paths[rt.Path]
		if p == nil {
			p = map[string]any{}
			paths[rt.Path] = p
		}
		p[strings.ToLower(rt.Method)] = op
	}
	errSchema := map[string]any{"type": "object", "properties": map[string]any{
		"statusCode": map[string]any{"type": "integer"}, "error": map[string]any{"type": "string"},
		"message": map[string]any{"type": "string"}, "errorCode": map[string]any{"type": "string"}}}
	responses := map[string]any{}
	for _, e := range []int{400, 401, 403, 404, 409, 429} {
		responses[itoa(e)] = map[string]any{"description": http.StatusText(e),
			"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
	}
	g.defs["Error"] = errSchema
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "Authgraph Management API v2", "version": "2",
			"description": "The user-management part of Auth0's Management API v2, served by Authgraph. See docs/AUTH0-COMPATIBILITY.md."},
		"servers": []map[string]any{{"url": strings.TrimSuffix(a.cfg.Issuer, "/") + "/api/v2"}},
		"paths":   paths,
		"components": map[string]any{
			"schemas":   g.defs,
			"responses": responses,
			"securitySchemes": map[string]any{"oauth2": map[string]any{"type": "oauth2", "flows": map[string]any{
				"clientCredentials": map[string]any{"tokenUrl": a.cfg.Issuer + "oauth/token", "scopes": scopes}}}},
		},
	}
}

func operationID(rt *Route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.Method))
	for _, s := range rt.segs {
		s = strings.Trim(s, "{}")
		for p := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
			b.WriteString(strings.ToUpper(p[:1]) + p[1:])
		}
	}
	return b.String()
}

func queryParams(q any) []map[string]any {
	if q == nil {
		return nil
	}
	t := reflect.TypeOf(q)
	var out []map[string]any
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Anonymous {
				walk(f.Type)
				continue
			}
			name := f.Tag.Get("query")
			if name == "" {
				continue
			}
			out = append(out, map[string]any{"name": name, "in": "query", "description": f.Tag.Get("doc"),
				"schema": map[string]any{"type": scalarType(f.Type)}})
		}
	}
	walk(t)
	return out
}

func scalarType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	}
	return "string"
}

// schemaGen turns Go types into JSON Schema (2020-12, as OpenAPI 3.1 uses).
type schemaGen struct{ defs map[string]any }

var timeType = reflect.TypeOf(time.Time{})

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == reflect.TypeOf(json.RawMessage(nil)):
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Interface:
		return map[string]any{}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		name := t.Name()
		if name != "" {
			if _, ok := g.defs[name]; !ok {
				g.defs[name] = map[string]any{} // placeholder: recursive types
				g.defs[name] = g.object(t)
			}
			return map[string]any{"$ref": "#/components/schemas/" + name}
		}
		return g.object(t)
	}
	return map[string]any{"type": scalarType(t)}
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				ft := f.Type
				for ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft)
					continue
				}
			}
			if name == "" {
				name = f.Name
			}
			s := g.schema(f.Type)
			if d := f.Tag.Get("doc"); d != "" {
				s = map[string]any{"allOf": []any{s}, "description": d}
			}
			props[name] = s
			if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") && f.Type.Kind() != reflect.Pointer {
				required = append(required, name)
			}
		}
	}
	walk(t)
	sort.Strings(required)
	out := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

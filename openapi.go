// Package flowbot holds what the module's root folder must embed: the HTTP
// contract, openapi.yaml (go:embed cannot reach a parent folder).
package flowbot

import _ "embed"

// OpenAPI is the service's HTTP contract, served at /openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Package crd embeds the generated CustomResourceDefinition of ProtectedService.
package crd

import _ "embed"

// ProtectedServices is the generated CRD, embedded so programs can validate manifests against
// exactly the schema and rules the API server enforces, without a cluster.
//
//go:embed bases/iap.runguard.dev_protectedservices.yaml
var ProtectedServices []byte

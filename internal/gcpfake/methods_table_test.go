package gcpfake

import (
	"testing"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// The registration table names real methods of the official descriptors, once each, and its
// facts agree with one another.
func TestRegistrationTable_NamesRealMethodsConsistently(t *testing.T) {
	prefixes := map[string]bool{}
	for _, a := range apis {
		if prefixes[a.prefix] {
			t.Errorf("prefix %q registered twice", a.prefix)
		}
		prefixes[a.prefix] = true
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(a.grpcService))
		if err != nil {
			t.Errorf("%s: %v", a.grpcService, err)
			continue
		}
		sd, ok := d.(protoreflect.ServiceDescriptor)
		if !ok {
			t.Errorf("%s is not a service", a.grpcService)
			continue
		}
		if a.deny == nil && len(a.methods) > 0 {
			t.Errorf("%s: methods but no denial", a.prefix)
		}
		seen := map[string]bool{}
		for _, m := range a.methods {
			short := a.prefix + "." + m.name
			if seen[m.name] {
				t.Errorf("%s registered twice", short)
			}
			seen[m.name] = true
			if sd.Methods().ByName(protoreflect.Name(m.name)) == nil {
				t.Errorf("%s: %s has no method %s", short, a.grpcService, m.name)
			}
			if m.target == nil {
				t.Errorf("%s: no target", short)
			}
			if m.typePermission != "" && m.permission == "" {
				t.Errorf("%s: a region-wide permission without a permission", short)
			}
			if m.audit != nil && (!m.write || a.place == nil || a.auditShape == nil || m.audit.method == "" || m.audit.gcloud == "") {
				t.Errorf("%s: an audit entry needs a write, the API's place and shape, and both method names", short)
			}
			if got := shortMethod("/"+a.grpcService+"/"+m.name, exampleRequest(a)); got != short {
				t.Errorf("shortMethod = %q, want %q", got, short)
			}
		}
	}
}

// exampleRequest is a request the API serves: one naming a resource it owns, for a gRPC service
// APIs share.
func exampleRequest(a *api) any {
	if a.owns != nil && a.owns("operations/accessPolicies/1/accessLevels/l/create/1") {
		return &longrunningpb.GetOperationRequest{Name: "operations/accessPolicies/1/accessLevels/l/create/1"}
	}
	return &longrunningpb.GetOperationRequest{Name: "projects/p/locations/l/operations/1"}
}

package run

import (
	"fmt"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/runguard/runguard/internal/gcpfake/apierr"
	"github.com/runguard/runguard/internal/gcpfake/fieldmask"
)

// applyMask returns cur with the masked fields taken from desired. Paths
// are proto field names ("iap_enabled", "template.scaling"); "*" replaces
// every updatable field.
func applyMask(cur, desired *runpb.Service, paths []string) (*runpb.Service, error) {
	out := proto.Clone(cur).(*runpb.Service)
	src := proto.Clone(desired).(*runpb.Service)
	for _, path := range paths {
		if path == "*" {
			replaceSpec(out, src)
			continue
		}
		parts := strings.Split(path, ".")
		if !updatable[parts[0]] {
			why := fmt.Sprintf("field %q is not an updatable field of Service", parts[0])
			if src.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(parts[0])) != nil {
				why = fmt.Sprintf("field %q is output only or immutable", parts[0])
			}
			return nil, maskError(path, why)
		}
		if err := fieldmask.Copy(out.ProtoReflect(), src.ProtoReflect(), parts, false); err != nil {
			return nil, maskError(path, err.Error())
		}
	}
	return out, nil
}

func maskError(path, why string) error {
	return apierr.BadRequest(fmt.Sprintf("Violation in UpdateServiceRequest.update_mask: invalid path %q: %s.", path, why),
		apierr.FieldViolation{Field: "Violation in UpdateServiceRequest.update_mask", Description: fmt.Sprintf("invalid path %q: %s", path, why)})
}

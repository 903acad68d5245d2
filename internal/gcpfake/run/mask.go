package run

import (
	"fmt"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/runguard/runguard/internal/gcpfake/apierr"
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
		if err := copyPath(out.ProtoReflect(), src.ProtoReflect(), parts); err != nil {
			return nil, maskError(path, err.Error())
		}
	}
	return out, nil
}

func maskError(path, why string) error {
	return apierr.BadRequest(fmt.Sprintf("Violation in UpdateServiceRequest.update_mask: invalid path %q: %s.", path, why),
		apierr.FieldViolation{Field: "Violation in UpdateServiceRequest.update_mask", Description: fmt.Sprintf("invalid path %q: %s", path, why)})
}

func copyPath(dst, src protoreflect.Message, path []string) error {
	fd := dst.Descriptor().Fields().ByName(protoreflect.Name(path[0]))
	if fd == nil {
		return fmt.Errorf("no field %q in %s", path[0], dst.Descriptor().Name())
	}
	if len(path) == 1 {
		if src.Has(fd) {
			dst.Set(fd, src.Get(fd))
		} else {
			dst.Clear(fd)
		}
		return nil
	}
	if fd.Kind() != protoreflect.MessageKind || fd.IsList() || fd.IsMap() {
		return fmt.Errorf("field %q has no subfields", path[0])
	}
	if !src.Has(fd) && !dst.Has(fd) {
		// Nothing to copy, but the rest of the path must still name fields.
		return checkPath(fd.Message(), path[1:])
	}
	return copyPath(dst.Mutable(fd).Message(), src.Get(fd).Message(), path[1:])
}

func checkPath(md protoreflect.MessageDescriptor, path []string) error {
	for i, name := range path {
		fd := md.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			return fmt.Errorf("no field %q in %s", name, md.Name())
		}
		if i < len(path)-1 {
			if fd.Kind() != protoreflect.MessageKind || fd.IsList() || fd.IsMap() {
				return fmt.Errorf("field %q has no subfields", name)
			}
			md = fd.Message()
		}
	}
	return nil
}

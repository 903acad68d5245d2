// Package fieldmask applies one google.protobuf.FieldMask path the way Google's update methods
// document it: the field at the path takes its value from the request, and a named field the
// request leaves unset is cleared. The fake's Cloud Run and IAP backends share it.
package fieldmask

import (
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Copy sets the field at path in dst to its value in src, or clears it where src does not set it.
// Path elements are proto field names; with jsonNames, lowerCamelCase names are accepted too.
func Copy(dst, src protoreflect.Message, path []string, jsonNames bool) error {
	fd := field(dst.Descriptor(), path[0], jsonNames)
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
		return check(fd.Message(), path[1:], jsonNames)
	}
	return Copy(dst.Mutable(fd).Message(), src.Get(fd).Message(), path[1:], jsonNames)
}

func check(md protoreflect.MessageDescriptor, path []string, jsonNames bool) error {
	for i, name := range path {
		fd := field(md, name, jsonNames)
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

func field(md protoreflect.MessageDescriptor, name string, jsonNames bool) protoreflect.FieldDescriptor {
	if fd := md.Fields().ByName(protoreflect.Name(name)); fd != nil || !jsonNames {
		return fd
	}
	return md.Fields().ByJSONName(name)
}

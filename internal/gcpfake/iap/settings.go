package iap

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/iap/apiv1/iappb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/runguard/runguard/internal/gcpfake/apierr"
	"github.com/runguard/runguard/internal/gcpfake/store"
)

// GetIapSettings returns the settings stored for the resource; a resource
// nobody configured has none, so only its name is set.
func (s *Server) GetIapSettings(ctx context.Context, req *iappb.GetIapSettingsRequest) (*iappb.IapSettings, error) {
	key, service, err := s.resolve(req.GetName())
	if err != nil {
		return nil, err
	}
	var out *iappb.IapSettings
	err = s.Store.Txn(func(tx *store.Tx) error {
		if err := exists(tx, service); err != nil {
			return err
		}
		out = storedSettings(tx, key)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.Name = req.GetName()
	return out, nil
}

// UpdateIapSettings follows the method's documentation in iappb: with an
// update mask only the fields it names change (a named field absent from
// the request is cleared); without one the request replaces the settings.
func (s *Server) UpdateIapSettings(ctx context.Context, req *iappb.UpdateIapSettingsRequest) (*iappb.IapSettings, error) {
	in := req.GetIapSettings()
	if in == nil {
		return nil, apierr.BadRequest("iap_settings is required.", apierr.FieldViolation{Field: "iap_settings", Description: "required"})
	}
	key, service, err := s.resolve(in.GetName())
	if err != nil {
		return nil, err
	}
	var out *iappb.IapSettings
	err = s.Store.Txn(func(tx *store.Tx) error {
		if err := exists(tx, service); err != nil {
			return err
		}
		next := proto.Clone(in).(*iappb.IapSettings)
		if paths := req.GetUpdateMask().GetPaths(); len(paths) > 0 {
			next = storedSettings(tx, key)
			for _, p := range paths {
				if err := copyPath(next.ProtoReflect(), in.ProtoReflect(), strings.Split(p, ".")); err != nil {
					return apierr.BadRequest(fmt.Sprintf("Invalid update mask path %q: %v", p, err),
						apierr.FieldViolation{Field: "update_mask", Description: err.Error()})
				}
			}
		}
		next.Name = ""
		tx.Put(store.KindIAPSettings, key, next)
		out = proto.Clone(next).(*iappb.IapSettings)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.Name = in.GetName()
	return out, nil
}

func storedSettings(tx *store.Tx, key string) *iappb.IapSettings {
	if m, ok := tx.Get(store.KindIAPSettings, key); ok {
		return m.(*iappb.IapSettings)
	}
	return &iappb.IapSettings{}
}

// copyPath sets the field at path in dst to its value in src, or clears it
// where src does not set it. Path elements are proto field names; REST
// callers' lowerCamelCase masks reach here already converted.
func copyPath(dst, src protoreflect.Message, path []string) error {
	fd := dst.Descriptor().Fields().ByName(protoreflect.Name(path[0]))
	if fd == nil {
		fd = dst.Descriptor().Fields().ByJSONName(path[0])
	}
	if fd == nil || fd.Name() == "name" && dst.Descriptor().FullName() == "google.cloud.iap.v1.IapSettings" {
		return fmt.Errorf("no updatable field %q in %s", path[0], dst.Descriptor().FullName())
	}
	if len(path) == 1 {
		if src.Has(fd) {
			dst.Set(fd, src.Get(fd))
		} else {
			dst.Clear(fd)
		}
		return nil
	}
	if fd.Message() == nil || fd.IsList() || fd.IsMap() {
		return fmt.Errorf("%q is not a message field", path[0])
	}
	// An unset message in src reads as empty, so the leaf is cleared.
	return copyPath(dst.Mutable(fd).Message(), src.Get(fd).Message(), path[1:])
}

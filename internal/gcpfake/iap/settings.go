package iap

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/iap/apiv1/iappb"
	"google.golang.org/protobuf/proto"

	"github.com/runguard/runguard/internal/gcpfake/apierr"
	"github.com/runguard/runguard/internal/gcpfake/fieldmask"
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
				// name says which resource; it is not a setting a mask may change.
				err := fmt.Errorf("no updatable field %q in IapSettings", p)
				if parts := strings.Split(p, "."); p != "name" {
					err = fieldmask.Copy(next.ProtoReflect(), in.ProtoReflect(), parts, true)
				}
				if err != nil {
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

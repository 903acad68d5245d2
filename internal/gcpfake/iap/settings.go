package iap

import (
	"context"
	"fmt"
	"strings"
	"time"

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
// Unlike most Google APIs, IAP roots the mask at the request, so every path
// starts with iap_settings ("iapSettings.accessSettings.reauthSettings" in
// the documentation's REST spelling), and the reauth settings may only be
// named whole.
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
				if err := applyMaskPath(next, in, p); err != nil {
					return apierr.BadRequest(fmt.Sprintf("Invalid update mask path %q: %v", p, err),
						apierr.FieldViolation{Field: "update_mask", Description: err.Error()})
				}
			}
		}
		if err := validateSettings(next); err != nil {
			return err
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

// reauthPath is the only mask path that may change the reauth settings.
var reauthPath = []string{"access_settings", "reauth_settings"}

// applyMaskPath copies one update_mask path from the request into next.
func applyMaskPath(next, in *iappb.IapSettings, path string) error {
	parts := strings.Split(path, ".")
	if parts[0] != "iap_settings" && parts[0] != "iapSettings" {
		return fmt.Errorf("paths are rooted at the request and start with iap_settings")
	}
	parts = parts[1:]
	switch {
	case len(parts) == 0 || len(parts) == 1 && parts[0] == "name":
		// name says which resource; it is not a setting a mask may change.
		return fmt.Errorf("no updatable field %q in IapSettings", path)
	case len(parts) > len(reauthPath) && normalizedPrefix(parts, reauthPath):
		return fmt.Errorf("all IAP reauth settings must always be set together, using the field mask iapSettings.accessSettings.reauthSettings")
	}
	return fieldmask.Copy(next.ProtoReflect(), in.ProtoReflect(), parts, true)
}

// normalizedPrefix reports whether path starts with prefix, in either spelling.
func normalizedPrefix(path, prefix []string) bool {
	for i, p := range prefix {
		if strings.ReplaceAll(strings.ToLower(path[i]), "_", "") != strings.ReplaceAll(p, "_", "") {
			return false
		}
	}
	return true
}

// minReauthAge is the shortest reauth max_age IAP accepts (docs: configuring-reauth).
const minReauthAge = 300 * time.Second

// validateSettings rejects what IAP documents it rejects, as a whole request.
func validateSettings(s *iappb.IapSettings) error {
	bad := func(field, desc string) error {
		return apierr.BadRequest(fmt.Sprintf("Invalid IAP settings: %s %s.", field, desc), apierr.FieldViolation{Field: field, Description: desc})
	}
	access := s.GetAccessSettings()
	if r := access.GetReauthSettings(); r != nil {
		switch {
		case r.GetMethod() == iappb.ReauthSettings_PASSWORD:
			return bad("iap_settings.access_settings.reauth_settings.method", "PASSWORD is deprecated and no longer accepted")
		case r.GetMethod() != iappb.ReauthSettings_METHOD_UNSPECIFIED && r.GetMaxAge().AsDuration() < minReauthAge:
			return bad("iap_settings.access_settings.reauth_settings.max_age", "must be at least 300 seconds")
		}
	}
	if len(access.GetWorkforceIdentitySettings().GetWorkforcePools()) > 1 {
		return bad("iap_settings.access_settings.workforce_identity_settings.workforce_pools", "accepts only one workforce pool")
	}
	if len(access.GetIdentitySources()) > 1 {
		return bad("iap_settings.access_settings.identity_sources", "accepts only one identity source")
	}
	return nil
}

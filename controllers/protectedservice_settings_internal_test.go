package controllers

import (
	"testing"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/iapsettings"
)

// The settings planner takes plain names: every name the API lets spec.iap.settings.clear hold
// must be one it resets, or a clear would be dropped without a word.
func TestSettingsSpec_EveryClearableNameOfTheAPIIsKnownToThePlanner(t *testing.T) {
	names := []iapv1alpha1.SettingName{iapv1alpha1.SettingAccessDeniedPage, iapv1alpha1.SettingReauthentication,
		iapv1alpha1.SettingAllowedDomains, iapv1alpha1.SettingCORS, iapv1alpha1.SettingProgrammaticClients}
	spec := settingsSpec(&iapv1alpha1.IAPSettings{Clear: names})
	for _, name := range spec.Clear {
		if len(iapsettings.Declare(&iapsettings.Spec{Clear: []string{name}}).Settings) == 0 {
			t.Errorf("spec.iap.settings.clear: %s is not known to the settings planner", name)
		}
	}
	if len(spec.Clear) != len(names) {
		t.Errorf("converted %d names of %d", len(spec.Clear), len(names))
	}
}

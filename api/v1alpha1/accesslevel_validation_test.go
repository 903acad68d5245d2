package v1alpha1_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// accessLevel builds a cluster-scoped AccessLevel from a spec written as YAML, with a fresh name.
func accessLevel(t *testing.T, specYAML string) *unstructured.Unstructured {
	t.Helper()
	var spec map[string]any
	if err := yaml.Unmarshal([]byte(specYAML), &spec); err != nil {
		t.Fatalf("bad test spec: %v", err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetAPIVersion("iap.runguard.dev/v1alpha1")
	u.SetKind("AccessLevel")
	u.SetName(fmt.Sprintf("level-%d", counter.Add(1)))
	return u
}

const officeRange = "basic: {conditions: [{ipSubnetworks: [203.0.113.0/24]}]}\n"

func TestAccessLevel_MinimalManifestGetsDefaults(t *testing.T) {
	u := accessLevel(t, officeRange)
	if err := k8s.Create(context.Background(), u); err != nil {
		t.Fatalf("minimal manifest rejected: %v", err)
	}
	var got iapv1alpha1.AccessLevel
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(u), &got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.Mode != iapv1alpha1.ModeEnforce || got.Spec.DeletionPolicy != iapv1alpha1.DeletionPolicyDelete {
		t.Errorf("mode %q, deletionPolicy %q; want Enforce and Delete", got.Spec.Mode, got.Spec.DeletionPolicy)
	}
	if got.Spec.Basic.CombiningFunction != iapv1alpha1.CombineAND {
		t.Errorf("combiningFunction defaulted to %q, want AND", got.Spec.Basic.CombiningFunction)
	}
}

func TestAccessLevel_ValidManifestsAreAccepted(t *testing.T) {
	cases := map[string]string{
		"every basic clause": `
accessPolicy: accessPolicies/123456789
title: Corp network on a managed device
description: The office ranges, from a locked and encrypted laptop.
basic:
  combiningFunction: OR
  conditions:
  - ipSubnetworks: [203.0.113.0/24, 198.51.100.0/24, "2001:db8::/32", 192.0.2.7/32]
    regions: [US, DE, GB]
    members: ["user:jane@acme.com", "serviceAccount:ci@acme-prod.iam.gserviceaccount.com"]
    requiredAccessLevels: [managed-device, accessPolicies/123456789/accessLevels/Partner_VPN]
    negate: false
  - devicePolicy:
      requireScreenLock: true
      requireCorpOwned: true
      requireAdminApproval: true
      allowedEncryptionStatuses: [ENCRYPTED]
      allowedDeviceManagementLevels: [BASIC, COMPLETE]
      osConstraints:
      - {osType: DESKTOP_MAC, minimumVersion: "14.2.1"}
      - {osType: DESKTOP_CHROME_OS, requireVerifiedChromeOS: true}
    negate: true
`,
		"custom expression":          `custom: {expression: "origin.region_code == 'US' && device.is_secured_with_screenlock"}` + "\n",
		"a level name with capitals": "levelName: Corp_Network_2\n" + officeRange,
		"observe and abandon":        "mode: Observe\ndeletionPolicy: Abandon\n" + officeRange,
	}
	for name, spec := range cases {
		t.Run(name, func(t *testing.T) {
			if err := k8s.Create(context.Background(), accessLevel(t, spec)); err != nil {
				t.Fatalf("rejected: %v", err)
			}
		})
	}
}

func TestAccessLevel_InvalidManifestsAreRejectedWithAClearMessage(t *testing.T) {
	condition := func(clause string) string { return "basic: {conditions: [{" + clause + "}]}\n" }
	cases := []struct{ name, spec, wantMessage string }{
		{"neither basic nor custom", "title: nothing\n", "give exactly one of basic"},
		{"both basic and custom", officeRange + "custom: {expression: 'true'}\n", "give exactly one of basic"},
		{"no conditions", "basic: {conditions: []}\n", "spec.basic.conditions"},
		{"an empty condition", condition("negate: true"), "a condition needs at least one of"},
		{"CIDR with host bits set", condition("ipSubnetworks: [192.0.2.1/24]"), "the host bits must be zero"},
		{"IPv6 CIDR with host bits set", condition(`ipSubnetworks: ["2001:db8::1/32"]`), "the host bits must be zero"},
		{"an address without a prefix", condition("ipSubnetworks: [192.0.2.1]"), "must be a CIDR range"},
		{"a host name for a range", condition("ipSubnetworks: [office.acme.com]"), "must be a CIDR range"},
		{"a prefix too long", condition("ipSubnetworks: [192.0.2.0/33]"), "must be a CIDR range"},
		{"a region in lower case", condition("regions: [us]"), "spec.basic.conditions[0].regions[0]"},
		{"a region ISO does not assign", condition("regions: [XX]"), "spec.basic.conditions[0].regions[0]"},
		{"a three-letter region", condition("regions: [USA]"), "spec.basic.conditions[0].regions[0]"},
		{"a group as a member", condition(`members: ["group:eng@acme.com"]`), "Access Context Manager refuses groups and domains"},
		{"a domain as a member", condition(`members: ["domain:acme.com"]`), "Access Context Manager refuses groups and domains"},
		{"a member that is not an email", condition(`members: ["user:jane"]`), "spec.basic.conditions[0].members[0]"},
		{"a required level in neither form", condition(`requiredAccessLevels: [Corp_Network]`), "spec.basic.conditions[0].requiredAccessLevels[0]"},
		{"an unknown encryption status", condition("devicePolicy: {allowedEncryptionStatuses: [SORT_OF]}"), `supported values: "ENCRYPTED"`},
		{"an unknown management level", condition("devicePolicy: {allowedDeviceManagementLevels: [FULL]}"), `supported values: "NONE"`},
		{"an unknown OS", condition("devicePolicy: {osConstraints: [{osType: BEOS}]}"), `supported values: "DESKTOP_MAC"`},
		{"an OS version in words", condition("devicePolicy: {osConstraints: [{osType: IOS, minimumVersion: latest}]}"), "minimumVersion"},
		{"an unknown combining function", "basic: {combiningFunction: XOR, conditions: [{regions: [US]}]}\n", `supported values: "AND", "OR"`},
		{"a level name with a hyphen", "levelName: corp-network\n" + officeRange, "spec.levelName"},
		{"a level name of 51 characters", "levelName: a" + strings.Repeat("b", 50) + "\n" + officeRange, "spec.levelName"},
		{"a policy by title", "accessPolicy: corp\n" + officeRange, "spec.accessPolicy"},
		{"an empty custom expression", "custom: {expression: ''}\n", "spec.custom.expression"},
		{"an unknown mode", "mode: DryRun\n" + officeRange, `supported values: "Enforce", "Observe"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expectRejected(t, k8s.Create(context.Background(), accessLevel(t, tc.spec)), tc.wantMessage)
		})
	}
}

func TestAccessLevel_ObjectNameMustBecomeALevelName(t *testing.T) {
	for name, wantAccepted := range map[string]bool{
		"corp-network":                true,
		"a" + strings.Repeat("b", 49): true,
		"a" + strings.Repeat("b", 50): false,
		"1-office":                    false,
		"corp.network":                false,
		"office-":                     false,
	} {
		u := accessLevel(t, officeRange)
		u.SetName(name)
		err := k8s.Create(context.Background(), u)
		if wantAccepted && err != nil {
			t.Errorf("%s: rejected: %v", name, err)
		}
		if !wantAccepted && (err == nil || !strings.Contains(err.Error(), "needs a name of at most 50 lowercase letters")) {
			t.Errorf("%s: got %v, want the level-name rule", name, err)
		}
	}
	// With spec.levelName the object's name is free.
	u := accessLevel(t, "levelName: Office\n"+officeRange)
	u.SetName("office.v2")
	if err := k8s.Create(context.Background(), u); err != nil {
		t.Errorf("office.v2 with levelName: %v", err)
	}
}

func TestAccessLevel_PolicyAndLevelNameAreImmutable(t *testing.T) {
	ctx := context.Background()
	u := accessLevel(t, "accessPolicy: accessPolicies/1\nlevelName: Fixed\n"+officeRange)
	if err := k8s.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	var al iapv1alpha1.AccessLevel
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(u), &al); err != nil {
		t.Fatal(err)
	}
	for field, change := range map[string]func(*iapv1alpha1.AccessLevelSpec){
		"spec.accessPolicy is immutable": func(s *iapv1alpha1.AccessLevelSpec) { s.AccessPolicy = "accessPolicies/2" },
		"spec.levelName is immutable":    func(s *iapv1alpha1.AccessLevelSpec) { s.LevelName = "Other" },
	} {
		changed := al.DeepCopy()
		change(&changed.Spec)
		if err := k8s.Update(ctx, changed); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("got %v, want %q", err, field)
		}
	}
	edited := al.DeepCopy()
	edited.Spec.Basic.Conditions[0].IPSubnetworks = append(edited.Spec.Basic.Conditions[0].IPSubnetworks, "198.51.100.0/24")
	if err := k8s.Update(ctx, edited); err != nil {
		t.Fatalf("editing the ranges: %v", err)
	}
}

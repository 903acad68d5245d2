package auditlog

import (
	"errors"
	"testing"
)

func entryJSON(logName, method, resource string) []byte {
	return []byte(`{"logName":"` + logName + `","timestamp":"2026-11-28T12:00:00.123456Z",` +
		`"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","serviceName":"run.googleapis.com",` +
		`"methodName":"` + method + `","resourceName":"` + resource + `","authenticationInfo":{"principalEmail":"alice@acme.com"}}}`)
}

const activity = "projects/acme-prod/logs/cloudaudit.googleapis.com%2Factivity"

func designatesWeb(t Target) bool {
	return t.Designates("acme-prod", "us-central1", "web", 123456789012)
}

// Before the project number is known, only the forms that name the project by ID designate it.
func TestDesignates_ByNumberOnlyOnceTheNumberIsKnown(t *testing.T) {
	byNumber := Target{Project: "123456789012", Number: true, Location: "us-central1", Service: "web"}
	if byNumber.Designates("acme-prod", "us-central1", "web", 0) {
		t.Error("a target named by project number designates an object whose number is not known yet")
	}
	if !byNumber.Designates("acme-prod", "us-central1", "web", 123456789012) {
		t.Error("a target named by project number does not designate the object with that number")
	}
	if !(Target{Project: "acme-prod", Service: "web"}).Designates("acme-prod", "europe-west1", "web", 0) {
		t.Error("the v1 form, which has no location, does not designate the service in its region")
	}
}

func TestParse_MapsEveryResourceFormGoogleLogsToTheService(t *testing.T) {
	for _, tc := range []struct{ method, resource string }{
		{"google.cloud.run.v2.Services.UpdateService", "projects/acme-prod/locations/us-central1/services/web"},
		{"google.cloud.run.v2.Services.SetIamPolicy", "projects/123456789012/locations/us-central1/services/web"},
		{"google.cloud.run.v1.Services.ReplaceService", "namespaces/acme-prod/services/web"},
		{"google.cloud.run.v1.Services.SetIamPolicy", "namespaces/123456789012/services/web"},
		{"google.cloud.run.v1.Services.ReplaceService", "apis/serving.knative.dev/v1/namespaces/acme-prod/services/web"},
		{"google.cloud.iap.v1.IdentityAwareProxyAdminService.SetIamPolicy", "projects/123456789012/iap_web/cloud_run-us-central1/services/web"},
		{"google.cloud.iap.v1.IdentityAwareProxyAdminService.SetIamPolicy", "projects/acme-prod/iap_web/cloud_run-us-central1/services/web"},
	} {
		e, err := Parse(entryJSON(activity, tc.method, tc.resource))
		if err != nil {
			t.Errorf("Parse(%s %s) = %v", tc.method, tc.resource, err)
			continue
		}
		if !designatesWeb(e.Target) {
			t.Errorf("%s: %+v does not designate acme-prod (123456789012)/us-central1/web", tc.resource, e.Target)
		}
		if e.Principal != "alice@acme.com" || e.Timestamp.IsZero() {
			t.Errorf("%s: principal %q timestamp %v", tc.resource, e.Principal, e.Timestamp)
		}
	}
}

// IAP settings writes are Data Access entries: a sink carries them once the project turns those
// logs on, and they lead to the object like any other change.
func TestParse_IAPSettingsWriteFromTheDataAccessLog(t *testing.T) {
	e, err := Parse(entryJSON("projects/acme-prod/logs/cloudaudit.googleapis.com%2Fdata_access",
		"google.cloud.iap.v1.IdentityAwareProxyAdminService.UpdateIapSettings", "projects/123456789012/iap_web/cloud_run-us-central1/services/web"))
	if err != nil {
		t.Fatal(err)
	}
	if !designatesWeb(e.Target) {
		t.Errorf("%+v does not designate acme-prod (123456789012)/us-central1/web", e.Target)
	}
}

func TestParse_OtherServicesAndProjectsDoNotMatch(t *testing.T) {
	for _, resource := range []string{
		"projects/acme-prod/locations/europe-west1/services/web",
		"projects/acme-prod/locations/us-central1/services/web2",
		"projects/other/locations/us-central1/services/web",
		"projects/999/iap_web/cloud_run-us-central1/services/web",
		"namespaces/other/services/web",
	} {
		e, err := Parse(entryJSON(activity, "google.cloud.run.v2.Services.UpdateService", resource))
		if err != nil {
			t.Errorf("Parse(%s) = %v", resource, err)
			continue
		}
		if designatesWeb(e.Target) {
			t.Errorf("%s maps to the object of acme-prod/us-central1/web", resource)
		}
	}
}

func TestParse_RejectsWhatIsNotAnAdminActivityChange(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"not JSON", []byte("{"), ErrMalformed},
		{"a data access entry of an Admin Activity method", entryJSON("projects/p/logs/cloudaudit.googleapis.com%2Fdata_access", "google.cloud.run.v2.Services.UpdateService", "projects/p/locations/l-x1/services/s"), ErrIrrelevant},
		{"a system event entry", entryJSON("projects/p/logs/cloudaudit.googleapis.com%2Fsystem_event", "google.cloud.run.v2.Services.UpdateService", "projects/p/locations/l/services/s"), ErrMalformed},
		{"a data access read of IAP settings", entryJSON("projects/p/logs/cloudaudit.googleapis.com%2Fdata_access", "google.cloud.iap.v1.IdentityAwareProxyAdminService.GetIapSettings", "projects/1/iap_web/cloud_run-us-central1/services/s"), ErrIrrelevant},
		{"no resource", entryJSON(activity, "google.cloud.run.v2.Services.UpdateService", ""), ErrMalformed},
		{"a read", entryJSON(activity, "google.cloud.run.v2.Services.GetService", "projects/p/locations/l/services/s"), ErrIrrelevant},
		{"another resource kind", entryJSON(activity, "google.cloud.run.v2.Services.UpdateService", "projects/p/locations/l/jobs/j"), ErrIrrelevant},
		{"an IAP resource without region", entryJSON(activity, "google.cloud.iap.v1.IdentityAwareProxyAdminService.SetIamPolicy", "projects/1/iap_web/compute/services/s"), ErrIrrelevant},
	} {
		if _, err := Parse(tc.data); !errors.Is(err, tc.want) {
			t.Errorf("%s: Parse = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func FuzzParse_NeverPanics(f *testing.F) {
	f.Add(entryJSON(activity, "google.cloud.run.v2.Services.UpdateService", "projects/p/locations/l/services/s"))
	f.Add([]byte(`{"protoPayload":{"resourceName":"namespaces//services/"}}`))
	f.Add(entryJSON(orgActivity, "google.identity.accesscontextmanager.v1.AccessContextManager.UpdateAccessLevel", "accessPolicies/1/accessLevels/l"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Parse(data)
		_, isLevel := AccessLevelName(e)
		if err == nil && (e.Target.Project == "" || e.Target.Service == "") && !isLevel {
			t.Errorf("accepted an entry without a target: %+v", e)
		}
	})
}

const orgActivity = "organizations/999999999999/logs/cloudaudit.googleapis.com%2Factivity"

// An access level's create, update or delete, logged in its organization's Admin Activity log,
// names the level; it designates no Cloud Run service.
func TestParse_AccessLevelWritesNameTheLevel(t *testing.T) {
	const level = "accessPolicies/111111111111/accessLevels/corp_network"
	for _, method := range []string{
		"google.identity.accesscontextmanager.v1.AccessContextManager.CreateAccessLevel",
		"google.identity.accesscontextmanager.v1.AccessContextManager.UpdateAccessLevel",
		"google.identity.accesscontextmanager.v1.AccessContextManager.DeleteAccessLevel",
	} {
		e, err := Parse(entryJSON(orgActivity, method, level))
		if err != nil {
			t.Errorf("Parse(%s) = %v", method, err)
			continue
		}
		if name, ok := AccessLevelName(e); !ok || name != level {
			t.Errorf("%s: AccessLevelName = %q, %v", method, name, ok)
		}
		if e.Target != (Target{}) || designatesWeb(e.Target) {
			t.Errorf("%s: target %+v, want none", method, e.Target)
		}
		if !Relevant(method) {
			t.Errorf("Relevant(%s) = false", method)
		}
	}
}

func TestAccessLevelName_OnlyForTheLevelOfALevelWrite(t *testing.T) {
	const update = "google.identity.accesscontextmanager.v1.AccessContextManager.UpdateAccessLevel"
	for _, tc := range []struct {
		name, method, resource string
		parses                 error
	}{
		{"a read of a level", "google.identity.accesscontextmanager.v1.AccessContextManager.GetAccessLevel", "accessPolicies/1/accessLevels/l", ErrIrrelevant},
		{"a perimeter's write", "google.identity.accesscontextmanager.v1.AccessContextManager.UpdateServicePerimeter", "accessPolicies/1/servicePerimeters/p", ErrIrrelevant},
		{"a policy that is not a number", update, "accessPolicies/acme/accessLevels/l", ErrIrrelevant},
		{"no short name", update, "accessPolicies/1/accessLevels/", ErrIrrelevant},
		{"a perimeter under a level's method", update, "accessPolicies/1/servicePerimeters/p", ErrIrrelevant},
		{"a Cloud Run method naming a level", "google.cloud.run.v2.Services.UpdateService", "accessPolicies/1/accessLevels/l", ErrIrrelevant},
	} {
		_, err := Parse(entryJSON(orgActivity, tc.method, tc.resource))
		if !errors.Is(err, tc.parses) {
			t.Errorf("%s: Parse = %v, want %v", tc.name, err, tc.parses)
		}
		if name, ok := AccessLevelName(Entry{MethodName: tc.method, ResourceName: tc.resource}); ok {
			t.Errorf("%s: AccessLevelName = %q", tc.name, name)
		}
	}
}

func TestAbove_NamesThePoliciesAboveServicesThatCanGrantIAPAccess(t *testing.T) {
	for _, tc := range []struct {
		method, resource string
		want             bool
	}{
		{"google.cloud.resourcemanager.v3.Projects.SetIamPolicy", "projects/acme-prod", true},
		{"SetIamPolicy", "projects/123456789012", true},
		{"google.cloud.resourcemanager.v3.Folders.SetIamPolicy", "folders/42", true},
		{"google.cloud.resourcemanager.v3.Organizations.SetIamPolicy", "organizations/7", true},
		{"google.cloud.iap.v1.IdentityAwareProxyAdminService.SetIamPolicy", "projects/123456789012/iap_web", true},
		{"google.cloud.iap.v1.IdentityAwareProxyAdminService.SetIamPolicy", "projects/123456789012/iap_web/cloud_run-us-central1", true},
		// The service's own IAP policy designates the service, not what is above it.
		{"google.cloud.iap.v1.IdentityAwareProxyAdminService.SetIamPolicy", "projects/123456789012/iap_web/cloud_run-us-central1/services/web", false},
		{"google.cloud.run.v2.Services.UpdateService", "projects/acme-prod", false},
	} {
		e, err := Parse(entryJSON(activity, tc.method, tc.resource))
		got, ok := Above(e)
		if ok != tc.want || (ok && (got != tc.resource || err != nil)) {
			t.Errorf("%s on %s: Above = %q, %v (Parse error %v), want %v", tc.method, tc.resource, got, ok, err, tc.want)
		}
	}
}

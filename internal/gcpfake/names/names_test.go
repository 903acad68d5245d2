package names

import "testing"

func TestParseIAP_AcceptsServiceRegionAndProjectForms(t *testing.T) {
	cases := map[string]IAPResource{
		"projects/123/iap_web": {Project: "123"},
		"projects/123/iap_web/cloud_run-us-central1/services/hello": {Project: "123", Location: "us-central1", Service: "hello"},
		"projects/123/iap_web/cloud_run-us-central1":                {Project: "123", Location: "us-central1"},
		"projects/my-proj/iap_web/cloud_run-us-central1":            {Project: "my-proj", Location: "us-central1"},
	}
	for in, want := range cases {
		got, ok := ParseIAP(in)
		if !ok || got != want {
			t.Errorf("ParseIAP(%q) = %+v, %v; want %+v", in, got, ok, want)
		}
	}
	for _, bad := range []string{
		"projects/123/iap_web/cloudrun-us-central1/services/hello",
		"projects/123/iap_web/cloud_run-/services/hello",
		"projects/123/iap_web/compute/services/hello",
		"projects/123/iap_web/cloud_run-us-central1/services/",
		"projects//iap_web/cloud_run-us-central1",
		"projects//iap_web",
		"projects/123/iap_web/",
	} {
		if _, ok := ParseIAP(bad); ok {
			t.Errorf("ParseIAP(%q) accepted", bad)
		}
	}
}

func TestIAPResource_ScopeAndNumberForm(t *testing.T) {
	for in, want := range map[string]struct {
		scope IAPScope
		named string
	}{
		"projects/p/iap_web":                               {IAPProjectScope, "projects/7/iap_web"},
		"projects/p/iap_web/cloud_run-us-east1":            {IAPRegionScope, "projects/7/iap_web/cloud_run-us-east1"},
		"projects/p/iap_web/cloud_run-us-east1/services/s": {IAPServiceScope, "projects/7/iap_web/cloud_run-us-east1/services/s"},
	} {
		r, _ := ParseIAP(in)
		if r.Scope() != want.scope || r.Named(7) != want.named {
			t.Errorf("%s: scope %d, named %s; want %d, %s", in, r.Scope(), r.Named(7), want.scope, want.named)
		}
	}
}

func TestValidServiceID_FollowsCloudRunRule(t *testing.T) {
	for id, want := range map[string]bool{
		"hello": true, "a": true, "a-1": true, "hello-": false, "1abc": false, "Hello": false, "a_b": false,
		"a234567890123456789012345678901234567890123456789": true, "a2345678901234567890123456789012345678901234567890": false,
	} {
		if got := ValidServiceID(id); got != want {
			t.Errorf("ValidServiceID(%q) = %v, want %v", id, got, want)
		}
	}
}

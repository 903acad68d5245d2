package gcp

import (
	"context"
	"slices"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
)

// The permissions runguard's code paths use, by resource. docs/install.md's custom role is
// exactly these plus resourcemanager.projects.get (which has no resource to test it on before
// the project number is known: its denial is reported by the lookup itself).
var (
	ServicePermissions = []string{"run.services.get", "run.services.update", "run.services.getIamPolicy", "run.services.setIamPolicy"}
	AccessPermissions  = []string{"iap.webServices.getIamPolicy", "iap.webServices.setIamPolicy"}
	// SettingsPermissions are needed on the IAP resource only by objects that declare settings.
	SettingsPermissions = []string{"iap.webServices.getSettings", "iap.webServices.updateSettings"}
)

// MissingPermissions asks Google which of want the identity lacks on resource (a Cloud Run
// service, or an IAP resource), in the order they are listed.
func (c *Clients) MissingPermissions(ctx context.Context, resource string, want []string) ([]string, error) {
	test := c.run.TestIamPermissions
	api, method, op := "run", "run.TestIamPermissions", "test runguard's permissions on Cloud Run service"
	if strings.Contains(resource, "/iap_web/") {
		test = c.iap.TestIamPermissions
		api, method, op = "iap", "iap.TestIamPermissions", "test runguard's permissions on IAP resource"
	}
	var resp *iampb.TestIamPermissionsResponse
	err := c.paced(ctx, api, false, resource, func() (err error) {
		resp, err = test(ctx, &iampb.TestIamPermissionsRequest{Resource: resource, Permissions: want})
		return err
	})
	observe(method, err)
	if err != nil {
		return nil, callError(op, resource, "", err)
	}
	var missing []string
	for _, p := range want {
		if !slices.Contains(resp.GetPermissions(), p) {
			missing = append(missing, p)
		}
	}
	return missing, nil
}

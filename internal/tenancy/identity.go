package tenancy

import (
	"errors"
	"strings"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
)

// Errors of a present annotation that names no service account: the namespace's objects act as
// nobody (NamespaceIdentityUnusable), never as runguard itself.
var (
	ErrIdentityBlank     = errors.New("the annotation is present but blank: name a service account email, or remove the annotation to use runguard's own identity")
	ErrIdentityMalformed = errors.New("not a service account email (NAME@PROJECT.iam.gserviceaccount.com)")
)

// NamespaceIdentity is the Google service account a namespace's objects act as: "" (runguard's
// own identity) only when the namespace has no google-service-account annotation at all. A
// present annotation must name a service account; Google compares emails case-insensitively and
// writes them in lower case, so the name is returned in lower case.
func NamespaceIdentity(annotations map[string]string) (string, error) {
	raw, present := annotations[iapv1alpha1.AnnotationGoogleServiceAccount]
	if !present {
		return "", nil
	}
	account := strings.ToLower(strings.TrimSpace(raw))
	switch {
	case account == "":
		return "", ErrIdentityBlank
	case !gcp.IsServiceAccountEmail(account):
		return account, ErrIdentityMalformed
	}
	return account, nil
}

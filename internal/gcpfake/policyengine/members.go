package policyengine

import (
	"fmt"
	"regexp"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/runguard/runguard/internal/gcpfake/apierr"
)

// Member kinds as they appear before the colon.
const (
	kindUser           = "user"
	kindGroup          = "group"
	kindServiceAccount = "serviceAccount"
	kindDomain         = "domain"
)

var (
	emailRE   = regexp.MustCompile(`^[^@\s:?]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$`)
	domainRE  = regexp.MustCompile(`^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$`)
	deletedRE = regexp.MustCompile(`^deleted:(user|group|serviceAccount):([^?\s]+)\?uid=[0-9]+$`)
)

// normalizeMember checks a member's syntax and returns the form IAM stores:
// email and domain members lower-cased, every other kind exactly as given.
func normalizeMember(m string) (string, error) {
	switch {
	case m == "allUsers" || m == "allAuthenticatedUsers":
		return m, nil
	case strings.HasPrefix(m, "principal://") || strings.HasPrefix(m, "principalSet://"):
		rest := m[strings.Index(m, "://")+3:]
		if !strings.HasPrefix(rest, "iam.googleapis.com/") || len(rest) == len("iam.googleapis.com/") {
			return "", invalidMember(m, "not a valid principal identifier")
		}
		return m, nil
	case strings.HasPrefix(m, "deleted:"):
		sub := deletedRE.FindStringSubmatch(m)
		if sub == nil || !emailRE.MatchString(sub[2]) {
			return "", invalidMember(m, "a deleted principal must be written deleted:{user|group|serviceAccount}:{email}?uid={id}")
		}
		return m, nil
	}
	kind, value, ok := strings.Cut(m, ":")
	if !ok {
		return "", unknownType(m)
	}
	switch kind {
	case kindUser, kindGroup, kindServiceAccount:
		if !emailRE.MatchString(value) {
			return "", invalidMember(m, "not a valid email address")
		}
		return kind + ":" + strings.ToLower(value), nil
	case kindDomain:
		if !domainRE.MatchString(value) {
			return "", invalidMember(m, "not a valid domain")
		}
		return kind + ":" + strings.ToLower(value), nil
	}
	return "", unknownType(m)
}

func unknownType(m string) error {
	return apierr.New(codes.InvalidArgument, fmt.Sprintf("The member %s is of an unknown type. Please set a valid type prefix for the member.", m))
}

func invalidMember(m, why string) error {
	return apierr.New(codes.InvalidArgument, fmt.Sprintf("Invalid member %s: %s.", m, why))
}

// memberMustExist returns the error IAM gives for an identity that does not
// exist, or nil for kinds IAM does not look up.
func memberMustExist(m string, exists func(string) bool) error {
	if exists == nil {
		return nil
	}
	kind, email, _ := strings.Cut(m, ":")
	var noun string
	switch kind {
	case kindUser:
		noun = "User"
	case kindGroup:
		noun = "Group"
	case kindServiceAccount:
		noun = "Service account"
	default:
		return nil
	}
	if exists(m) {
		return nil
	}
	return apierr.New(codes.InvalidArgument, fmt.Sprintf("%s %s does not exist.", noun, email))
}

func isGroup(m string) bool {
	return strings.HasPrefix(m, "group:") || strings.HasPrefix(m, "deleted:group:")
}

func isPublic(m string) bool { return m == "allUsers" || m == "allAuthenticatedUsers" }

// NormalizeMember checks a member's syntax and returns the form IAM stores (emails and domains
// lower-cased), or the INVALID_ARGUMENT IAM answers for it.
func NormalizeMember(m string) (string, error) { return normalizeMember(m) }

package frontdoor

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// The test headers: who sends a request and from where, which IAP would learn from the sign-in,
// the network and Endpoint Verification. Each is optional.
const (
	// HeaderPrincipal is the caller in IAM member form: user:EMAIL, serviceAccount:EMAIL or
	// principal://…. Without it the request is anonymous.
	HeaderPrincipal = "X-Runguard-Test-Principal"
	// HeaderGroups lists, comma-separated, every group (group:EMAIL) and principal set
	// (principalSet://…) the caller belongs to; a group not listed does not contain it.
	HeaderGroups = "X-Runguard-Test-Groups"
	// HeaderSourceIP is the address the request comes from; without it, the connection's.
	HeaderSourceIP = "X-Runguard-Test-Source-IP"
	// HeaderRegion is the ISO 3166-1 alpha-2 code of where the request comes from; without it
	// the region is not known: a level's regions do not hold (so a negated condition's NAND can)
	// and a custom level's origin.region_code is an error.
	HeaderRegion = "X-Runguard-Test-Region"
	// HeaderDevice lists the device's facts as KEY=VALUE, comma-separated (the Device* keys);
	// a fact left out is not known: a device requirement on it does not hold, as for a device
	// Endpoint Verification does not report.
	HeaderDevice = "X-Runguard-Test-Device"
	// HeaderTime is request.time in RFC 3339; without it, the fake's clock.
	HeaderTime = "X-Runguard-Test-Time"
)

// The identity headers IAP passes to the app ("These headers should have the namespace prefix
// accounts.google.com", https://cloud.google.com/iap/docs/identity-howto).
const (
	HeaderUserEmail = "X-Goog-Authenticated-User-Email"
	HeaderUserID    = "X-Goog-Authenticated-User-Id"
	identityPrefix  = "accounts.google.com:"
)

// The keys of HeaderDevice, and the values each takes.
const (
	DeviceScreenLock       = "screen_lock"        // true, false
	DeviceEncryption       = "encryption"         // ENCRYPTED, UNENCRYPTED, ENCRYPTION_UNSUPPORTED, ENCRYPTION_UNSPECIFIED
	DeviceOS               = "os"                 // DESKTOP_MAC, DESKTOP_WINDOWS, DESKTOP_LINUX, DESKTOP_CHROME_OS, ANDROID, IOS
	DeviceOSVersion        = "os_version"         // major.minor.patch
	DeviceVerifiedChromeOS = "verified_chrome_os" // true, false
	DeviceCorpOwned        = "corp_owned"         // true, false
	DeviceAdminApproved    = "admin_approved"     // true, false
	DeviceManagement       = "management"         // NONE, BASIC, COMPLETE, MANAGEMENT_UNSPECIFIED
)

var (
	deviceKeys = map[string]bool{DeviceScreenLock: true, DeviceEncryption: true, DeviceOS: true, DeviceOSVersion: true,
		DeviceVerifiedChromeOS: true, DeviceCorpOwned: true, DeviceAdminApproved: true, DeviceManagement: true}
	regionCodeRE = regexp.MustCompile(`^[A-Z]{2}$`)
)

// request is what the front door knows of one request.
type request struct {
	principal string // "" for an anonymous request
	groups    []string
	ip        netip.Addr
	region    string // "" unknown
	device    map[string]string
	time      time.Time
	path      string
	host      string
}

// readRequest gathers the request's identity and context; a malformed test header is an error
// naming it.
func readRequest(r *http.Request, now time.Time) (request, error) {
	req := request{path: r.URL.Path, host: hostOf(r.Host), time: now, device: map[string]string{}}
	var err error
	if req.principal, err = readPrincipal(r.Header.Get(HeaderPrincipal)); err != nil {
		return request{}, err
	}
	if req.groups, err = readGroups(r.Header.Get(HeaderGroups)); err != nil {
		return request{}, err
	}
	if req.ip, err = readIP(r.Header.Get(HeaderSourceIP), r.RemoteAddr); err != nil {
		return request{}, err
	}
	if v := strings.TrimSpace(r.Header.Get(HeaderRegion)); v != "" {
		if req.region = strings.ToUpper(v); !regionCodeRE.MatchString(req.region) {
			return request{}, fmt.Errorf("%s: %q is not an ISO 3166-1 alpha-2 code", HeaderRegion, v)
		}
	}
	if req.device, err = readDevice(r.Header.Get(HeaderDevice)); err != nil {
		return request{}, err
	}
	if v := strings.TrimSpace(r.Header.Get(HeaderTime)); v != "" {
		if req.time, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return request{}, fmt.Errorf("%s: %q is not an RFC 3339 time", HeaderTime, v)
		}
	}
	return req, nil
}

// readPrincipal accepts an identity that can sign in to IAP; emails compare without regard to
// case, as IAM stores them lower-cased.
func readPrincipal(v string) (string, error) {
	v = strings.TrimSpace(v)
	kind, email, _ := strings.Cut(v, ":")
	switch {
	case v == "":
		return "", nil
	case strings.HasPrefix(v, "principal://"):
		return v, nil
	case (kind == "user" || kind == "serviceAccount") && strings.Contains(email, "@"):
		return kind + ":" + strings.ToLower(email), nil
	}
	return "", fmt.Errorf("%s: %q is not user:EMAIL, serviceAccount:EMAIL or principal://…", HeaderPrincipal, v)
}

func readGroups(v string) ([]string, error) {
	var out []string
	for _, g := range splitList(v) {
		switch {
		case strings.HasPrefix(g, "group:") && strings.Contains(g, "@"):
			out = append(out, strings.ToLower(g))
		case strings.HasPrefix(g, "principalSet://"):
			out = append(out, g)
		default:
			return nil, fmt.Errorf("%s: %q is neither group:EMAIL nor principalSet://…", HeaderGroups, g)
		}
	}
	return out, nil
}

func readIP(header, remoteAddr string) (netip.Addr, error) {
	if v := strings.TrimSpace(header); v != "" {
		ip, err := netip.ParseAddr(v)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("%s: %q is not an IP address", HeaderSourceIP, v)
		}
		return ip.Unmap(), nil
	}
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, _ := netip.ParseAddr(host)
	return ip.Unmap(), nil
}

func readDevice(v string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range splitList(v) {
		key, value, ok := strings.Cut(kv, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || !deviceKeys[key] || value == "" {
			return nil, fmt.Errorf("%s: %q is not KEY=VALUE with a key of %s", HeaderDevice, kv, strings.Join(sortedKeys(deviceKeys), ", "))
		}
		out[key] = value
	}
	return out, nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// hostOf is a Host header without its port, lower-cased.
func hostOf(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.ToLower(h)
}

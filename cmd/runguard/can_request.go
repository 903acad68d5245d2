package main

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/runguard/runguard/internal/accesslevel"
	"github.com/runguard/runguard/internal/reach"
)

// requestFlags are what can is told about the request: who makes it, from where, for what.
type requestFlags struct {
	ip, region, path, host, at string
	device                     []string
	groups                     []string
	groupsKnown                bool
}

func (f *requestFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.ip, "ip", "", "The address the request comes from, as IAP sees it (access levels' IP ranges).")
	fs.StringVar(&f.region, "region", "", "The ISO 3166-1 alpha-2 country or region the request comes from (access levels' regions), e.g. DE.")
	fs.StringVar(&f.path, "path", "", "The request's URL path (request.path), e.g. /reports/q3.")
	fs.StringVar(&f.host, "host", "", "The request's host name (request.host).")
	fs.StringVar(&f.at, "at", "", "When the request is made (RFC 3339, e.g. 2026-12-24T18:00:00Z). Default: now.")
	fs.StringArrayVar(&f.device, "device", nil, "KEY=VALUE: a fact about the device (docs/effective-access.md lists the keys: screen_lock, encryption, os, os_version, verified_chrome_os, corp_owned, admin_approved, management). Repeatable; facts not given are unknown.")
	fs.StringArrayVar(&f.groups, "group", nil, "group:EMAIL (or principalSet://…) the member belongs to, directly or through nested groups. Repeatable.")
	fs.BoolVar(&f.groupsKnown, "groups-known", false, "The --group list is complete: the member is in no other group. Without it, membership of any group not listed is unknown, and an answer that turns on it is DEPENDS.")
}

// requestMember is who can make a request, as an access test names it: a user, a service account
// or a workforce or workload identity (the ProtectedService CRD's rule for spec.accessTests).
var requestMember = regexp.MustCompile(`^((user|serviceAccount):[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,63}|principal://iam\.googleapis\.com/[^\s]+)$`)

// requestGroup is a group a member can belong to: a Google group, or a principal set.
var requestGroup = regexp.MustCompile(`^(group:[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,63}|principalSet://iam\.googleapis\.com/[^\s]+)$`)

// deviceValues are the device facts can takes, and the values each may have (nil: any, checked
// by its form below).
var deviceValues = map[string][]string{
	reach.DeviceScreenLock:       {"true", "false"},
	reach.DeviceEncryption:       {"ENCRYPTED", "UNENCRYPTED", "ENCRYPTION_UNSUPPORTED", "ENCRYPTION_UNSPECIFIED"},
	reach.DeviceOS:               {"DESKTOP_MAC", "DESKTOP_WINDOWS", "DESKTOP_LINUX", "DESKTOP_CHROME_OS", "ANDROID", "IOS"},
	reach.DeviceOSVersion:        nil,
	reach.DeviceVerifiedChromeOS: {"true", "false"},
	reach.DeviceCorpOwned:        {"true", "false"},
	reach.DeviceAdminApproved:    {"true", "false"},
	reach.DeviceManagement:       {"NONE", "BASIC", "COMPLETE", "MANAGEMENT_UNSPECIFIED"},
}

var osVersion = regexp.MustCompile(`^[0-9]+(\.[0-9]+){0,2}$`)

// request turns the member and the flags into the request reach evaluates, or says what is wrong.
func (f *requestFlags) request(member string, now time.Time) (reach.Request, error) {
	if err := checkMember(member); err != nil {
		return reach.Request{}, err
	}
	req := reach.Request{Member: member, Groups: f.groups, GroupsKnown: f.groupsKnown, Path: f.path, Host: f.host, Time: now.UTC()}
	for _, g := range f.groups {
		if !requestGroup.MatchString(g) {
			return reach.Request{}, fmt.Errorf("--group %q: want group:EMAIL or principalSet://iam.googleapis.com/…", g)
		}
	}
	if f.ip != "" {
		addr, err := netip.ParseAddr(f.ip)
		if err != nil {
			return reach.Request{}, fmt.Errorf("--ip %q is not an IPv4 or IPv6 address", f.ip)
		}
		req.IP = addr.String()
	}
	if f.region != "" {
		req.RegionCode = strings.ToUpper(f.region)
		if !accesslevel.ValidRegion(req.RegionCode) {
			return reach.Request{}, fmt.Errorf("--region %q is not an ISO 3166-1 alpha-2 code (DE, US, …)", f.region)
		}
	}
	if f.path != "" && !strings.HasPrefix(f.path, "/") {
		return reach.Request{}, fmt.Errorf("--path %q must start with /", f.path)
	}
	if f.at != "" {
		at, err := time.Parse(time.RFC3339, f.at)
		if err != nil {
			return reach.Request{}, fmt.Errorf("--at %q is not an RFC 3339 time (2026-12-24T18:00:00Z)", f.at)
		}
		req.Time = at.UTC()
	}
	var err error
	req.Device, err = deviceFacts(f.device)
	return req, err
}

// checkMember refuses a MEMBER that makes no request, saying what to give instead.
func checkMember(member string) error {
	kind, _, _ := strings.Cut(member, ":")
	switch {
	case requestMember.MatchString(member):
		return nil
	case kind == "group" || kind == "domain" || strings.HasPrefix(member, "principalSet://"):
		return fmt.Errorf("MEMBER %q is a set of principals, which makes no request: name one user:EMAIL, serviceAccount:EMAIL or principal://…, and the groups it belongs to with --group", member)
	case member == "allUsers" || member == "allAuthenticatedUsers":
		return fmt.Errorf("MEMBER %q names everyone, not one caller: name one user:EMAIL, serviceAccount:EMAIL or principal://…", member)
	}
	return fmt.Errorf("MEMBER %q is not user:EMAIL, serviceAccount:EMAIL or principal://iam.googleapis.com/…", member)
}

// deviceFacts reads --device KEY=VALUE flags.
func deviceFacts(flags []string) (map[string]string, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	facts := map[string]string{}
	for _, kv := range flags {
		k, v, ok := strings.Cut(kv, "=")
		allowed, known := deviceValues[k]
		switch {
		case !ok || k == "":
			return nil, fmt.Errorf("--device %q: want KEY=VALUE", kv)
		case !known:
			return nil, fmt.Errorf("--device %q: unknown key %s (docs/effective-access.md lists the keys)", kv, k)
		case allowed == nil && !osVersion.MatchString(v):
			return nil, fmt.Errorf("--device %q: want a version major.minor.patch, e.g. 14.2.1", kv)
		case allowed != nil && !slices.Contains(allowed, v):
			return nil, fmt.Errorf("--device %q: %s is one of %s", kv, k, strings.Join(allowed, ", "))
		}
		facts[k] = v
	}
	return facts, nil
}

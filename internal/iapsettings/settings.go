// Package iapsettings decides which of a service's IAP settings (Google's IapSettings) to write.
// It is pure: it turns the declared settings into Google's message and compares them with what
// Google holds, one declared setting at a time, so a setting nobody declared is never written.
package iapsettings

import (
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/iap/apiv1/iappb"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// MaskPrefix roots update_mask paths at the request, as UpdateIapSettings documents
// ("iapSettings.accessSettings.reauthSettings" in REST spelling).
const MaskPrefix = "iap_settings."

// Setting is one setting runguard manages: its name in the spec and its path in IapSettings.
type Setting struct {
	Name string
	Path string
	// steps are Path's field names, declared as such so that nothing splits Path again.
	steps []string
}

func setting(name string, steps ...string) Setting {
	return Setting{Name: name, Path: strings.Join(steps, "."), steps: steps}
}

// The settings a spec can declare. Re-authentication and allowed domains are whole messages:
// Google requires the reauth fields to be set together, and a domain list means nothing without
// its enable switch. Each field of the access-denied page is managed on its own.
var (
	accessDeniedURI     = setting("accessDeniedPage.uri", "application_settings", "access_denied_page_settings", "access_denied_page_uri")
	troubleshootingLink = setting("accessDeniedPage.troubleshootingLink", "application_settings", "access_denied_page_settings", "generate_troubleshooting_uri")
	reauthentication    = setting("reauthentication", "access_settings", "reauth_settings")
	allowedDomains      = setting("allowedDomains", "access_settings", "allowed_domains_settings")
	corsHTTPOptions     = setting("cors.allowHTTPOptions", "access_settings", "cors_settings", "allow_http_options")
	programmaticClients = setting("programmaticClients", "access_settings", "oauth_settings", "programmatic_clients")
)

// clearable is what each name under spec.iap.settings.clear resets: exactly the settings its
// spec field can declare, never a neighbour the spec does not model (the access-denied page's
// remediation token flag, say).
var clearable = map[string][]Setting{
	"AccessDeniedPage":    {accessDeniedURI, troubleshootingLink},
	"Reauthentication":    {reauthentication},
	"AllowedDomains":      {allowedDomains},
	"CORS":                {corsHTTPOptions},
	"ProgrammaticClients": {programmaticClients},
}

// Spec is what spec.iap.settings declares, as plain values (controllers converts the API type,
// as it does for the IAM-policy core). A nil field declares nothing.
type Spec struct {
	AccessDeniedPageURI *string
	TroubleshootingLink *bool
	Reauthentication    *iappb.ReauthSettings
	AllowedDomains      []string
	AllowHTTPOptions    *bool
	ProgrammaticClients []string
	// Clear names the settings to reset, by their spec.iap.settings.clear names.
	Clear []string
}

// Declaration is what a spec declares: the values (cleared settings are absent from Desired)
// and the settings they cover.
type Declaration struct {
	Desired  *iappb.IapSettings
	Settings []Setting
}

// Names lists the declared settings, as the spec names them.
func (d Declaration) Names() []string {
	out := make([]string, len(d.Settings))
	for i, s := range d.Settings {
		out[i] = s.Name
	}
	return out
}

// Declare turns spec.iap.settings into the settings runguard manages; nil declares none.
func Declare(spec *Spec) Declaration {
	if spec == nil {
		return Declaration{}
	}
	d := Declaration{Desired: &iappb.IapSettings{
		AccessSettings:      &iappb.AccessSettings{},
		ApplicationSettings: &iappb.ApplicationSettings{},
	}}
	access, app := d.Desired.AccessSettings, d.Desired.ApplicationSettings
	if spec.AccessDeniedPageURI != nil || spec.TroubleshootingLink != nil {
		app.AccessDeniedPageSettings = &iappb.AccessDeniedPageSettings{}
		if spec.AccessDeniedPageURI != nil {
			app.AccessDeniedPageSettings.AccessDeniedPageUri = wrapperspb.String(*spec.AccessDeniedPageURI)
			d.Settings = append(d.Settings, accessDeniedURI)
		}
		if spec.TroubleshootingLink != nil {
			app.AccessDeniedPageSettings.GenerateTroubleshootingUri = wrapperspb.Bool(*spec.TroubleshootingLink)
			d.Settings = append(d.Settings, troubleshootingLink)
		}
	}
	if spec.Reauthentication != nil {
		access.ReauthSettings = proto.Clone(spec.Reauthentication).(*iappb.ReauthSettings)
		d.Settings = append(d.Settings, reauthentication)
	}
	if len(spec.AllowedDomains) > 0 {
		access.AllowedDomainsSettings = &iappb.AllowedDomainsSettings{Enable: proto.Bool(true), Domains: slices.Clone(spec.AllowedDomains)}
		d.Settings = append(d.Settings, allowedDomains)
	}
	if spec.AllowHTTPOptions != nil {
		access.CorsSettings = &iappb.CorsSettings{AllowHttpOptions: wrapperspb.Bool(*spec.AllowHTTPOptions)}
		d.Settings = append(d.Settings, corsHTTPOptions)
	}
	if len(spec.ProgrammaticClients) > 0 {
		access.OauthSettings = &iappb.OAuthSettings{ProgrammaticClients: slices.Clone(spec.ProgrammaticClients)}
		d.Settings = append(d.Settings, programmaticClients)
	}
	for _, name := range spec.Clear {
		d.Settings = append(d.Settings, clearable[name]...)
	}
	return d
}

// Change is one declared setting whose value in Google differs from the spec.
type Change struct {
	Setting
	From, To string
}

// Plan is the masked update that makes Google hold the declared settings.
type Plan struct {
	Changes []Change
	// Update carries the declared values; only the paths in Mask are written.
	Update *iappb.IapSettings
	Mask   []string
}

// Changed reports whether anything must be written.
func (p Plan) Changed() bool { return len(p.Changes) > 0 }

// Diff describes the changes for an Event.
func (p Plan) Diff() string {
	parts := make([]string, len(p.Changes))
	for i, c := range p.Changes {
		parts[i] = fmt.Sprintf("%s %s (was %s)", c.Name, c.To, c.From)
	}
	return strings.Join(parts, "; ")
}

// PlanUpdate compares each declared setting with what Google holds and plans an update whose
// mask names exactly the declared settings that differ.
func PlanUpdate(current *iappb.IapSettings, d Declaration) Plan {
	plan := Plan{Update: d.Desired}
	have, want := normalized(current), normalized(d.Desired)
	for _, s := range d.Settings {
		from, hasFrom := lookup(have, s.steps)
		to, hasTo := lookup(want, s.steps)
		if hasFrom == hasTo && (!hasFrom || equal(from, to)) {
			continue
		}
		plan.Changes = append(plan.Changes, Change{Setting: s, From: describe(from, hasFrom), To: describe(to, hasTo)})
		plan.Mask = append(plan.Mask, MaskPrefix+s.Path)
	}
	return plan
}

// normalized sorts the lists whose order means nothing, so a list Google returns in another
// order is not taken for drift.
func normalized(s *iappb.IapSettings) protoreflect.Message {
	if s == nil {
		s = &iappb.IapSettings{}
	}
	s = proto.Clone(s).(*iappb.IapSettings)
	if d := s.GetAccessSettings().GetAllowedDomainsSettings(); d != nil {
		slices.Sort(d.Domains)
	}
	if o := s.GetAccessSettings().GetOauthSettings(); o != nil {
		slices.Sort(o.ProgrammaticClients)
	}
	return s.ProtoReflect()
}

// lookup finds the value at a path of field names; false when any step is unset. An
// empty list, and a message with nothing set in it (an emptied container, a BoolValue holding
// false), count as unset: they mean what unset means, and Google may answer either form, so
// comparing them as different would rewrite the same setting on every pass.
func lookup(m protoreflect.Message, steps []string) (protoreflect.Value, bool) {
	for i, name := range steps {
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd == nil || !m.Has(fd) {
			return protoreflect.Value{}, false
		}
		v := m.Get(fd)
		if fd.Message() != nil && !fd.IsList() && !fd.IsMap() && proto.Size(v.Message().Interface()) == 0 {
			return v, false // kept for describe: a declared false reads "false", not "unset"
		}
		if i == len(steps)-1 {
			return v, true
		}
		m = v.Message()
	}
	return protoreflect.Value{}, false
}

func equal(a, b protoreflect.Value) bool {
	switch x := a.Interface().(type) {
	case protoreflect.Message:
		return proto.Equal(x.Interface(), b.Message().Interface())
	case protoreflect.List:
		y := b.List()
		if x.Len() != y.Len() {
			return false
		}
		for i := range x.Len() {
			if !equal(x.Get(i), y.Get(i)) {
				return false
			}
		}
		return true
	}
	return a.Interface() == b.Interface()
}

// describe renders a value for people: a wrapper as its value, a list joined, a message as
// compact text.
func describe(v protoreflect.Value, set bool) string {
	if !v.IsValid() {
		return "unset"
	}
	switch x := v.Interface().(type) {
	case protoreflect.Message:
		if value := x.Descriptor().Fields().ByName("value"); value != nil && x.Descriptor().FullName().Parent() == "google.protobuf" {
			return describe(x.Get(value), true)
		}
		if !set {
			return "unset"
		}
		return "{" + prototext.MarshalOptions{}.Format(x.Interface()) + "}"
	case protoreflect.List:
		items := make([]string, x.Len())
		for i := range x.Len() {
			items[i] = describe(x.Get(i), true)
		}
		return "[" + strings.Join(items, ", ") + "]"
	case string:
		return fmt.Sprintf("%q", x)
	}
	return fmt.Sprint(v.Interface())
}

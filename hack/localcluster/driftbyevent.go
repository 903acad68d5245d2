package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

// runDriftByEvent grants a member the invoker role on a Cloud Run service behind runguard's back,
// through the fake's admin API, and measures how long the grant lasts. The demo runs the manager
// with a one-hour resync, so a correction within seconds can only come from the audit entry the
// fake publishes for the grant.
func runDriftByEvent(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("drift-by-event", flag.ExitOnError)
	admin := fs.String("admin", "", "the fake's admin URL, e.g. http://127.0.0.1:8791")
	service := fs.String("service", "", "the Cloud Run service, projects/P/locations/L/services/S")
	member := fs.String("member", "allUsers", "the member to grant "+invokerRole+" out of band")
	timeout := fs.Duration("timeout", 10*time.Second, "fail if the grant is still there after this long")
	_ = fs.Parse(args)
	if *admin == "" || *service == "" {
		return fmt.Errorf("usage: localcluster drift-by-event --admin URL --service projects/P/locations/L/services/S [--member allUsers] [--timeout 10s]")
	}
	d := driftProbe{
		admin:   strings.TrimSuffix(*admin, "/"),
		service: *service,
		member:  *member,
		poll:    50 * time.Millisecond,
		client:  &http.Client{Timeout: 5 * time.Second},
	}
	return d.run(context.Background(), *timeout, out)
}

type driftProbe struct {
	admin, service, member string
	poll                   time.Duration
	client                 *http.Client
}

func (d driftProbe) run(ctx context.Context, timeout time.Duration, out io.Writer) error {
	project, location, name := splitServiceName(d.service)
	if project == "?" {
		return fmt.Errorf("--service %q is not projects/P/locations/L/services/S", d.service)
	}
	var audit adminapi.AuditStats
	if err := d.get(ctx, adminapi.AuditPath, &audit); err != nil {
		return err
	}
	if !audit.Enabled {
		return fmt.Errorf("the fake publishes no audit entries (start gcpfake with --pubsub-listen), so no event can report the change")
	}
	before, err := d.servicePolicy(ctx)
	if err != nil {
		return err
	}
	if holds(before, invokerRole, d.member) {
		return fmt.Errorf("%s already may invoke %s: there is no drift to introduce", d.member, d.service)
	}

	granted := withMember(before, invokerRole, d.member)
	body, err := json.Marshal(granted)
	if err != nil {
		return err
	}
	path := fmt.Sprintf("%s/%s/%s/%s", adminapi.ServicePolicyPath, project, location, name)
	// The clock starts before the write, so the figure is an upper bound of the drift's life.
	start := time.Now()
	if err := d.do(ctx, http.MethodPut, path, body, nil); err != nil {
		return fmt.Errorf("grant %s %s out of band: %w", d.member, invokerRole, err)
	}
	fmt.Fprintf(out, "granted %s %s on %s out of band (PUT %s)\n", d.member, invokerRole, d.service, path)
	fmt.Fprintf(out, "waiting up to %s for runguard to take it back\n", timeout)

	deadline := start.Add(timeout)
	for {
		p, err := d.servicePolicy(ctx)
		// A failed read is retried until the deadline: the fake is local and answers at once.
		if err == nil && !holds(p, invokerRole, d.member) {
			fmt.Fprintf(out, "drift corrected by event in %.1f s\n", time.Since(start).Seconds())
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("could not read the fake's state for %s: %w", timeout, err)
			}
			return fmt.Errorf("%s still may invoke %s %s after the out-of-band grant: no audit event corrected it (see the manager's and gcpfake's logs)", d.member, d.service, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d.poll):
		}
	}
}

// servicePolicy reads the service's IAM policy from the fake's /state.
func (d driftProbe) servicePolicy(ctx context.Context) (adminapi.Policy, error) {
	var st adminapi.State
	if err := d.get(ctx, adminapi.StatePath, &st); err != nil {
		return adminapi.Policy{}, err
	}
	for _, svc := range st.Services {
		if svc.Name == d.service {
			return svc.ServicePolicy, nil
		}
	}
	return adminapi.Policy{}, fmt.Errorf("the fake holds no service %s", d.service)
}

func (d driftProbe) get(ctx context.Context, path string, into any) error {
	return d.do(ctx, http.MethodGet, path, nil, into)
}

func (d driftProbe) do(ctx context.Context, method, path string, body []byte, into any) error {
	req, err := http.NewRequestWithContext(ctx, method, d.admin+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(raw))
	}
	if into == nil {
		return nil
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return fmt.Errorf("parse the answer to %s %s: %w", method, path, err)
	}
	return nil
}

// withMember adds member to the policy's unconditional binding of role, keeping every other
// binding as it is, as `gcloud … add-iam-policy-binding` does. The admin API writes the whole
// policy, so dropping a binding here would be a second, unintended change.
func withMember(p adminapi.Policy, role, member string) adminapi.Policy {
	out := adminapi.Policy{Version: p.Version, AuditConfigs: p.AuditConfigs}
	added := false
	for _, b := range p.Bindings {
		if b.Role == role && b.Condition == nil && !added {
			b.Members = append(slices.Clone(b.Members), member)
			added = true
		}
		out.Bindings = append(out.Bindings, b)
	}
	if !added {
		out.Bindings = append(out.Bindings, adminapi.Binding{Role: role, Members: []string{member}})
	}
	return out
}

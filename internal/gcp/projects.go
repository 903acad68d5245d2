package gcp

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
)

// ProjectNumber resolves a project ID to its number through Resource Manager, once per project:
// IAP resources are addressed by number, and a project's number never changes.
func (c *Clients) ProjectNumber(ctx context.Context, projectID string) (int64, error) {
	c.numbersMu.RLock()
	n, ok := c.numbers[projectID]
	c.numbersMu.RUnlock()
	if ok {
		return n, nil
	}
	// Objects of one project adopted together look it up once.
	v, err, _ := c.lookups.Do(projectID, func() (any, error) { return c.lookUpProjectNumber(ctx, projectID) })
	if err != nil {
		return 0, err
	}
	return v.(int64), nil
}

func (c *Clients) lookUpProjectNumber(ctx context.Context, projectID string) (int64, error) {
	p, err := c.projects.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/" + projectID})
	countCall("resourcemanager.GetProject", err)
	if err != nil {
		return 0, callError("look up the number of project", projectID, "resourcemanager.projects.get", err)
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(p.GetName(), "projects/"), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("look up the number of project %s: %w (name %q)", projectID, errNoNumber, p.GetName())
	}
	c.numbersMu.Lock()
	c.numbers[projectID] = n
	c.numbersMu.Unlock()
	return n, nil
}

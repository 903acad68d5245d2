package gcp

// CloudRunRegions are the regions Cloud Run runs services in, as cloud.google.com/run/docs/locations
// lists them (tier 1 and tier 2, read 2026-11). Cloud Run v2 has no call that lists a project's
// regions and its ListServices takes one region at a time, so a tool that looks for services
// "anywhere" asks each of these; a region added later needs naming explicitly.
var CloudRunRegions = []string{
	"africa-south1",
	"asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2", "asia-northeast3",
	"asia-south1", "asia-south2", "asia-southeast1", "asia-southeast2",
	"australia-southeast1", "australia-southeast2",
	"europe-central2", "europe-north1", "europe-southwest1",
	"europe-west1", "europe-west2", "europe-west3", "europe-west4", "europe-west6",
	"europe-west8", "europe-west9", "europe-west10", "europe-west12",
	"me-central1", "me-central2", "me-west1",
	"northamerica-northeast1", "northamerica-northeast2",
	"southamerica-east1", "southamerica-west1",
	"us-central1", "us-east1", "us-east4", "us-east5", "us-south1",
	"us-west1", "us-west2", "us-west3", "us-west4",
}

package accesslevel

import (
	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"google.golang.org/protobuf/proto"
)

// Mask returns the update-mask paths for turning actual into desired: the
// top-level fields ACM's UpdateAccessLevel accepts (title, description,
// basic, custom) whose values differ in meaning. Basic levels are compared
// after canonicalising list order on both sides, so a level Google returns
// in another order is in sync. Switching between basic and custom names
// both fields, so the update clears the old one. The result is nil when
// nothing differs, which tells the controller to make no write.
func Mask(desired, actual *accesscontextmanagerpb.AccessLevel) []string {
	var paths []string
	if desired.GetTitle() != actual.GetTitle() {
		paths = append(paths, "title")
	}
	if desired.GetDescription() != actual.GetDescription() {
		paths = append(paths, "description")
	}
	wantBasic, haveBasic := desired.GetBasic(), actual.GetBasic()
	if (wantBasic != nil || haveBasic != nil) &&
		!proto.Equal(canonicalBasic(wantBasic), canonicalBasic(haveBasic)) {
		paths = append(paths, "basic")
	}
	wantCustom, haveCustom := desired.GetCustom(), actual.GetCustom()
	if (wantCustom != nil || haveCustom != nil) && !proto.Equal(wantCustom, haveCustom) {
		paths = append(paths, "custom")
	}
	return paths
}

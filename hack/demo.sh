#!/usr/bin/env bash
# `make demo`: runs runguard end to end on this machine — a local Kubernetes control plane
# (etcd + kube-apiserver), the fake Google Cloud (gcpfake) and the manager — applies the samples
# and shows what runguard did in Kubernetes and in (fake) Google Cloud. Then it stays up for
# exploration until Ctrl-C, which stops every process it started.
#
# DEMO_EXIT=1 runs the same flow non-interactively and exits 0 only if every object reached
# the condition it should (good ones Ready, the bad one Stalled), the invalid one was
# rejected by `kubectl apply`, an out-of-band grant of allUsers was taken back by an audit
# log event within 10 s, a grant made by hand above the services showed in status within 10 s
# (and stalled the object that denies inherited access), the access tests passed, and an
# AccessGrant went Pending → Active (bound, letting its member through the fake's IAP front door)
# → Expired, its binding removed within 5 s of its expiry.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DEMO_EXIT="${DEMO_EXIT:-}"
DEMO_DIR="$ROOT/bin/demo"
LOG_DIR="$DEMO_DIR/logs"
KCFG="$DEMO_DIR/kubeconfig"
WAIT_TIMEOUT="${DEMO_WAIT_TIMEOUT:-60s}"
# Out-of-band changes reach the manager as audit log events through Pub/Sub, so the periodic
# re-check is only a safety net and can be long, as recommended in production.
RESYNC="${DEMO_RESYNC_PERIOD:-1h}"
AUDIT_SUBSCRIPTION=projects/runguard-demo/subscriptions/runguard-audit
# The sample object whose Cloud Run service the demo changes behind runguard's back.
DRIFT_NS=finance
DRIFT_OBJECT=billing-dashboard
DRIFT_SERVICE=projects/acme-prod/locations/us-central1/services/billing-dashboard
# The organization's access policy in the seed: the AccessLevels of hack/demo/good/ name none, so
# the manager's --access-policy holds their levels.
ACCESS_POLICY=accessPolicies/123456789
# The grant made by hand above the services: on acme-prod's IAP level ("All Web Services"), which
# every IAP-secured service of the project inherits; the object that shows it.
IAP_WEB=projects/512345678901/iap_web
HAND_GRANTED=user:helpdesk@acme.com
ACCESSOR=roles/iap.httpsResourceAccessor
# The AccessGrant step: alice@acme.com asks for GRANT_FOR of access for GRANT_MEMBER to
# ops-console's sre group, bob@acme.com approves it (hack/demo/access-grants.yaml lets them).
GRANT_NAME=contractor-debug
GRANT_MEMBER=user:contractor@acme.com
GRANT_FOR="${DEMO_GRANT_FOR:-6s}"

PIDS=()
NAMES=()
PORTS=()
FAILURES=0
STEP=0
STAYING_UP=""

now() {
	if [[ -n "${EPOCHREALTIME:-}" ]]; then echo "${EPOCHREALTIME/,/.}"; else date +%s; fi
}
T0="$(now)"
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

step() {
	STEP=$((STEP + 1))
	printf '\n==> [%d] %s\n' "$STEP" "$*"
}
info() { printf '    %s\n' "$*"; }
indent() { sed 's/^/      /'; }
die() {
	printf '\ndemo: %s\n' "$*" >&2
	exit 1
}
problem() {
	FAILURES=$((FAILURES + 1))
	printf '    PROBLEM: %s\n' "$*"
}

# alive is true while the process runs; a child that exited stays a zombie until reaped, and
# kill -0 would still succeed on it.
alive() {
	local s
	s="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
	[[ -n "$s" && "$s" != Z* ]]
}

# start NAME LOG CMD... runs CMD in the background with its output in LOG.
start() {
	local name="$1" log="$2"
	shift 2
	"$@" >"$log" 2>&1 &
	PIDS+=("$!")
	NAMES+=("$name")
	info "$name started (pid $!), log: ${log#"$ROOT"/}"
}

stop_one() {
	local name="$1" pid="$2" children="" i
	if alive "$pid"; then
		children="$(pgrep -P "$pid" 2>/dev/null || true)"
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 150; i++)); do
			alive "$pid" || break
			sleep 0.2
		done
		if alive "$pid"; then
			info "$name did not stop within 30s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
			# localcluster's etcd and kube-apiserver would outlive it.
			for i in $children; do kill -KILL "$i" 2>/dev/null || true; done
		fi
	fi
	wait "$pid" 2>/dev/null || true
	info "stopped $name"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cleanup() {
	local rc=$? i p left=""
	trap - EXIT INT TERM
	set +e
	if [[ -n "$STAYING_UP" && "$rc" == 130 ]]; then
		rc=0 # Ctrl-C is how the interactive demo ends
	fi
	if ((${#PIDS[@]} > 0)); then
		printf '\n==> stopping everything the demo started\n'
		for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
			stop_one "${NAMES[i]}" "${PIDS[i]}"
		done
		# ${a[@]+...}: an empty array is "unbound" to set -u in bash before 4.4 (macOS ships 3.2).
		for p in ${PORTS[@]+"${PORTS[@]}"}; do
			if port_in_use "$p"; then left="$left $p"; fi
		done
		if [[ -n "$left" ]]; then
			printf '    WARNING: something still listens on 127.0.0.1 port(s)%s\n' "$left"
		else
			info "no process or port left behind"
		fi
	fi
	rm -f "$DEMO_DIR/demo.pid"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "Checking prerequisites"
command -v go >/dev/null 2>&1 || die "Go is required and 'go' is not on PATH. Install Go $(awk '/^go /{print $2; exit}' go.mod) or newer (https://go.dev/dl/) and run 'make demo' again."
command -v make >/dev/null 2>&1 || die "make is required and is not on PATH (Debian/Ubuntu: apt-get install make)."
for tool in awk sed grep ps; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is required and is not on PATH."
done
info "$(go version)"
mkdir -p "$DEMO_DIR"
if [[ -f "$DEMO_DIR/demo.pid" ]] && alive "$(cat "$DEMO_DIR/demo.pid")"; then
	die "another demo is running (pid $(cat "$DEMO_DIR/demo.pid")); press Ctrl-C in its terminal first."
fi
echo "$$" >"$DEMO_DIR/demo.pid"

ASSETS="$(./hack/build-k8s-binaries.sh --print-dir)"
KUBECTL="$ASSETS/kubectl"
if [[ ! -x "$ASSETS/kube-apiserver" || ! -x "$ASSETS/etcd" || ! -x "$KUBECTL" ]]; then
	info "kube-apiserver, etcd and kubectl are not here yet: downloading them with setup-envtest where the"
	info "internet is reachable (about a minute), else building them from source: about 25 minutes on a"
	info "2-core machine (23.4 measured), once per machine (a copy is kept in ~/.cache/runguard)."
fi
./hack/build-k8s-binaries.sh
info "control-plane binaries: ${ASSETS#"$ROOT"/}"
k() { "$KUBECTL" --kubeconfig "$KCFG" "$@"; }

step "Building the manager, the fake Google Cloud, the runguard CLI and the demo helper (the first build takes 1-3 minutes)"
t="$(now)"
make --no-print-directory build
go build -o bin/localcluster ./hack/localcluster
info "built bin/manager, bin/gcpfake, bin/runguard and bin/localcluster in $(since "$t")"

T_UP="$(now)"
step "Starting a local Kubernetes control plane (etcd + kube-apiserver)"
rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"
rm -f "$KCFG"
start localcluster "$LOG_DIR/localcluster.log" \
	bin/localcluster start --assets "$ASSETS" --kubeconfig "$KCFG" --log-dir "$LOG_DIR"
for ((i = 0; i < 450; i++)); do
	grep -q '^ready' "$LOG_DIR/localcluster.log" 2>/dev/null && break
	alive "${PIDS[0]}" || die "the control plane did not start; see $LOG_DIR/localcluster.log, kube-apiserver.log and etcd.log:
$(tail -n 20 "$LOG_DIR/localcluster.log")"
	sleep 0.2
done
grep -q '^ready' "$LOG_DIR/localcluster.log" || die "the control plane did not become ready within 90s; see $LOG_DIR/"
while read -r url; do
	p="${url##*:}"
	PORTS+=("${p%/}")
done < <(sed -n -e 's/^api server: //p' -e 's/^etcd: //p' "$LOG_DIR/localcluster.log")
info "$(grep '^api server' "$LOG_DIR/localcluster.log"), ready after $(since "$T_UP")"

step "Starting the fake Google Cloud, seeded from hack/demo/seed.yaml"
read -r GRPC_PORT ADMIN_PORT PUBSUB_PORT METRICS_PORT PROBE_PORT REST_PORT FRONT_PORT < <(bin/localcluster free-ports 7)
PORTS+=("$GRPC_PORT" "$ADMIN_PORT" "$PUBSUB_PORT" "$METRICS_PORT" "$PROBE_PORT" "$REST_PORT" "$FRONT_PORT")
ADMIN="http://127.0.0.1:$ADMIN_PORT"
start gcpfake "$LOG_DIR/gcpfake.log" \
	bin/gcpfake --listen "127.0.0.1:$GRPC_PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" --seed hack/demo/seed.yaml \
	--pubsub-listen "127.0.0.1:$PUBSUB_PORT" --http-listen "127.0.0.1:$REST_PORT" --frontdoor-listen "127.0.0.1:$FRONT_PORT"
bin/localcluster wait-http "$ADMIN/healthz" --timeout 30s || die "gcpfake did not start; see $LOG_DIR/gcpfake.log:
$(tail -n 20 "$LOG_DIR/gcpfake.log")"
info "gRPC on 127.0.0.1:$GRPC_PORT, admin on $ADMIN, REST (what gcloud calls) on http://127.0.0.1:$REST_PORT/"
# A throwaway gcloud configuration pointed at the fake, so the user's own gcloud can inspect it
# without touching their configuration; the CLOUDSDK_* variables set the same properties as
# `gcloud config set`.
GCLOUD_ENV="$DEMO_DIR/gcloud.env"
mkdir -p "$DEMO_DIR/gcloud-config"
cat >"$GCLOUD_ENV" <<EOF
# source this file to point gcloud at the demo's fake Google Cloud (docs/gcpfake.md)
export CLOUDSDK_CONFIG="$DEMO_DIR/gcloud-config"
export CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true
export CLOUDSDK_CORE_PROJECT=acme-prod
export CLOUDSDK_API_ENDPOINT_OVERRIDES_IAP=http://127.0.0.1:$REST_PORT/
export CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER=http://127.0.0.1:$REST_PORT/
export CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN=http://127.0.0.1:$REST_PORT/
export CLOUDSDK_API_ENDPOINT_OVERRIDES_ACCESSCONTEXTMANAGER=http://127.0.0.1:$REST_PORT/
export CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM=http://127.0.0.1:$REST_PORT/
EOF
info "Pub/Sub (Google's in-memory server) on 127.0.0.1:$PUBSUB_PORT: every change is published there as an"
info "Admin Activity audit entry, as a Cloud Logging sink would, to subscription $AUDIT_SUBSCRIPTION"
info "project acme-prod: billing-dashboard (private, IAP off), public-site (allUsers may invoke, IAP off),"
info "ops-console (IAP on, access someone granted by hand), legacy-wiki (nobody's yet: for docs/adoption.md);"
info "project acme-payroll: payroll-api (public)"
info "acme-prod is in folder production (folders/300) of organization acme.com (organizations/100200300400);"
info "nothing above the services grants IAP access yet"
info "access policy $ACCESS_POLICY (the organization's): corp_managed_device, made by another tool"
info "who may call: runguard's own identity in acme-prod, and on the organization the reads of the policies above"
info "the services; platform-team@acme-ops (namespace platform's identity) too"

# The runguard CLI's flags for the fake, as the read-only identity the seed gives adoption tools.
RUNGUARD_ENV="$DEMO_DIR/runguard.env"
cat >"$RUNGUARD_ENV" <<EOF
# source this file to point bin/runguard (or kubectl runguard) at the demo's fake (docs/adoption.md):
# RUNGUARD_GOOGLE_FLAGS for who-can and can, RUNGUARD_FLAGS (with the cluster's name) for the others
export RUNGUARD_GOOGLE_FLAGS="--run-endpoint 127.0.0.1:$GRPC_PORT --iap-endpoint 127.0.0.1:$GRPC_PORT --resourcemanager-endpoint 127.0.0.1:$GRPC_PORT --acm-endpoint 127.0.0.1:$GRPC_PORT --iam-endpoint 127.0.0.1:$GRPC_PORT --iamcredentials-endpoint 127.0.0.1:$REST_PORT --impersonate-service-account adoption@acme-ops.iam.gserviceaccount.com"
export RUNGUARD_FLAGS="\$RUNGUARD_GOOGLE_FLAGS --cluster-name demo"
EOF
# shellcheck source=/dev/null
source "$RUNGUARD_ENV"

step "runguard export: the ProtectedServices that reproduce acme-prod's access as it is today (docs/adoption.md), and runguard doctor"
info "read-only, as adoption@acme-ops (--impersonate-service-account); before runguard has touched anything"
# shellcheck disable=SC2086 # RUNGUARD_FLAGS is a list of flags
bin/runguard export --project acme-prod --location us-central1,europe-west1 $RUNGUARD_FLAGS | indent ||
	die "runguard export failed"
info "runguard doctor, as runguard's own identity: may it do its work in acme-prod? (docs/cli.md)"
bin/runguard doctor --project acme-prod --location us-central1 --service billing-dashboard,public-site \
	--run-endpoint "127.0.0.1:$GRPC_PORT" --iap-endpoint "127.0.0.1:$GRPC_PORT" --resourcemanager-endpoint "127.0.0.1:$GRPC_PORT" \
	--acm-endpoint "127.0.0.1:$GRPC_PORT" --iam-endpoint "127.0.0.1:$GRPC_PORT" --cluster-name demo | indent || die "runguard doctor found something to fix in acme-prod"

step "Installing the CRDs, the admission policies (tenancy, AccessGrants) and the roles to request and approve AccessGrants"
k apply -f config/crd/bases/ | indent
k wait --for=condition=Established --timeout=30s crd/protectedservices.iap.runguard.dev crd/accesslevels.iap.runguard.dev \
	crd/accessgrants.iap.runguard.dev crd/accessgrantapprovals.iap.runguard.dev | indent
k apply -k config/admission | indent
k apply -f config/rbac/accessgrant_requester_role.yaml -f config/rbac/accessgrant_approver_role.yaml | indent

step "Starting the manager, pointed at the local API server and the fake Google Cloud"
start manager "$LOG_DIR/manager.log" \
	bin/manager --kubeconfig "$KCFG" \
	--run-endpoint "127.0.0.1:$GRPC_PORT" --iap-endpoint "127.0.0.1:$GRPC_PORT" --resourcemanager-endpoint "127.0.0.1:$GRPC_PORT" \
	--iamcredentials-endpoint "127.0.0.1:$REST_PORT" \
	--acm-endpoint "127.0.0.1:$GRPC_PORT" --access-policy "$ACCESS_POLICY" --iam-endpoint "127.0.0.1:$GRPC_PORT" \
	--metrics-bind-address "127.0.0.1:$METRICS_PORT" --metrics-secure=false \
	--health-probe-bind-address "127.0.0.1:$PROBE_PORT" \
	--audit-log-subscription "$AUDIT_SUBSCRIPTION" --pubsub-endpoint "127.0.0.1:$PUBSUB_PORT" \
	--cluster-name demo --resync-period "$RESYNC" --zap-encoder console
bin/localcluster wait-http "http://127.0.0.1:$PROBE_PORT/readyz" --timeout 30s || die "the manager did not start; see $LOG_DIR/manager.log:
$(tail -n 20 "$LOG_DIR/manager.log")"
info "ready; it reacts to audit log events at once and re-checks Google Cloud every $RESYNC as a safety net"
T_STARTUP="$(since "$T_UP")"
info "control plane, fake and manager up after $T_STARTUP"

T_APPLY="$(now)"
step "Applying namespaces (with iap.runguard.dev/allowed-projects; platform acts as its own Google service account), config/samples/ and hack/demo/good/ (three AccessLevels among them)"
k apply -f hack/demo/namespaces.yaml | indent
for f in config/samples/*.yaml; do
	[[ "$(basename "$f")" == kustomization.yaml ]] && continue
	k apply -f "$f" | indent
done
k apply -f hack/demo/good/ | indent
k apply -f hack/demo/access-grants.yaml | indent

step "Applying what an error looks like, from hack/demo/bad/"
info "hack/demo/bad/rejected-invalid-window.yaml is refused by the API server:"
if out="$(k apply -f hack/demo/bad/rejected-invalid-window.yaml 2>&1)"; then
	echo "$out" | indent
	problem "kubectl apply accepted an access window that ends before it starts"
else
	echo "$out" | indent
fi
info "hack/demo/bad/refused-project-not-allowed.yaml is refused by the tenancy admission policy (namespace finance"
info "may not target acme-payroll):"
# A new policy binding takes effect within a second or two; a server-side dry run asks until it does.
for ((i = 0; i < 50; i++)); do
	k apply --dry-run=server -f hack/demo/bad/refused-project-not-allowed.yaml >/dev/null 2>&1 || break
	sleep 0.2
done
if out="$(k apply -f hack/demo/bad/refused-project-not-allowed.yaml 2>&1)"; then
	echo "$out" | indent
	problem "kubectl apply accepted an object its namespace may not target"
else
	echo "$out" | fold -s -w 100 | indent
fi
info "hack/demo/bad/stalled-service-claimed.yaml is accepted (a second object for ops-console), and the controller"
info "will mark it Stalled:"
k apply -f hack/demo/bad/stalled-service-claimed.yaml | indent

step "Waiting for every object to reach its condition (timeout $WAIT_TIMEOUT each)"
# wait_condition CONDITION NAMESPACE NAME
wait_condition() {
	local cond="$1" ns="$2" name="$3" t reason
	t="$(now)"
	if k wait --for="condition=$cond" --timeout="$WAIT_TIMEOUT" -n "$ns" "protectedservice/$name" >/dev/null 2>&1; then
		reason="$(k get protectedservice -n "$ns" "$name" -o jsonpath="{.status.conditions[?(@.type==\"$cond\")].reason}")"
		info "$ns/$name: $cond=True ($reason), after $(since "$T_APPLY")"
	else
		problem "$ns/$name did not become $cond within $WAIT_TIMEOUT (waited $(since "$t")). Its conditions:"
		k get protectedservice -n "$ns" "$name" \
			-o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}' 2>&1 | indent
	fi
}
# wait_level NAME: an AccessLevel (cluster-scoped) becomes Ready.
wait_level() {
	local t
	t="$(now)"
	if k wait --for=condition=Ready --timeout="$WAIT_TIMEOUT" "accesslevel/$1" >/dev/null 2>&1; then
		info "AccessLevel $1: Ready ($(k get accesslevel "$1" -o jsonpath='{.status.name}')), after $(since "$T_APPLY")"
	else
		problem "AccessLevel $1 did not become Ready within $WAIT_TIMEOUT (waited $(since "$t")). Its conditions:"
		k get accesslevel "$1" -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}' 2>&1 | indent
	fi
}
wait_level office-or-oncall
wait_level corp-network
wait_level managed-device
wait_condition Ready finance billing-dashboard
wait_condition Ready platform public-site
wait_condition Ready platform ops-console
wait_condition Stalled platform ops-console-too
T_CONVERGED="$(since "$T_APPLY")"

step "kubectl get protectedservices -A -o wide"
k get protectedservices -A -o wide | indent
echo
info "Why platform/ops-console-too is Stalled:"
k get protectedservice -n platform ops-console-too \
	-o jsonpath='{.status.conditions[?(@.type=="Stalled")].message}{"\n"}' | fold -s -w 100 | indent

step "Access levels (kubectl get accesslevels -o wide) and what platform/ops-console's sre group requires"
info "runguard made the three levels in $ACCESS_POLICY; billing-dashboard (and office-or-oncall) require"
info "corp_managed_device, which another tool made, by its full name: runguard checked that it exists and left it alone"
k get accesslevels -o wide | indent
echo
info "status.accessLevels of platform/ops-console (one summary line per group):"
k get protectedservice -n platform ops-console -o jsonpath='{range .status.accessLevels[*]}{.summary}{"\n"}{end}' | fold -s -w 100 | indent

step "What runguard did (kubectl get events -A)"
k get events -A --sort-by=.metadata.creationTimestamp | indent

step "Google Cloud (the fake) now: IAP, who wrote it, who may invoke, who may pass IAP and when; the access levels"
STATE="$(bin/localcluster google-state --admin "$ADMIN")"
echo "$STATE" | indent
PLATFORM_SA="serviceAccount:platform-team@acme-ops.iam.gserviceaccount.com"
if grep -q "written by .*$PLATFORM_SA" <<<"$STATE" && ! grep -q "written by .*runguard@acme-ops.*platform-team\|written by .*platform-team.*runguard@acme-ops" <<<"$STATE"; then
	info "namespace platform's services were written as $PLATFORM_SA (its own identity), finance's as runguard's"
else
	problem "namespace platform's services were not written as $PLATFORM_SA alone"
fi
# The seed's level is another tool's: unmarked, and never written since (no "written by" line).
foreign_writes="$(awk '/^  \[/ { f = / corp_managed_device / } f && /written by/' <<<"$STATE")"
if grep -q '^  \[runguard\] corp_network ' <<<"$STATE" && grep -q '^  \[runguard\] managed_device ' <<<"$STATE" &&
	grep -q '^  \[runguard\] office_or_oncall ' <<<"$STATE" &&
	grep -q '^  \[other\] *corp_managed_device ' <<<"$STATE" && [[ -z "$foreign_writes" ]]; then
	info "runguard's three levels carry its mark; corp_managed_device, another tool's, was never written"
else
	problem "the access levels in $ACCESS_POLICY are not runguard's three marked ones next to the unmarked corp_managed_device"
fi

step "Drift corrected by an audit log event (resync is $RESYNC)"
info "Someone grants allUsers the invoker role on $DRIFT_NS/$DRIFT_OBJECT's service behind runguard's back (the"
info "fake's admin API stands in for gcloud or the console). The fake publishes the audit entry to Pub/Sub; with"
info "the next resync $RESYNC away, only that event can get it corrected within seconds."
failures_before=$FAILURES
drift_ok=1
drift_out="$(bin/localcluster drift-by-event --admin "$ADMIN" --service "$DRIFT_SERVICE" --timeout 10s 2>&1)" || drift_ok=""
while IFS= read -r line; do
	case "$line" in
	"localcluster: "*) problem "${line#localcluster: }" ;;
	?*) info "$line" ;;
	esac
done <<<"$drift_out"
if [[ -z "$drift_ok" && "$FAILURES" == "$failures_before" ]]; then
	problem "localcluster drift-by-event failed"
fi
T_DRIFT="$(sed -n 's/^drift corrected by event in //p' <<<"$drift_out")"
if [[ -n "$drift_ok" ]]; then
	# Events reach the API server asynchronously; give the recorder a moment.
	for ((i = 0; i < 25; i++)); do
		drift_events="$(k get events -n "$DRIFT_NS" --field-selector "reason=DriftCorrected,involvedObject.name=$DRIFT_OBJECT" \
			-o custom-columns=TIME:.eventTime,TYPE:.type,REASON:.reason,OBJECT:.involvedObject.name,MESSAGE:.message 2>/dev/null)" || true
		[[ "$(wc -l <<<"$drift_events")" -gt 1 ]] && break
		sleep 0.2
	done
	info "runguard's view (kubectl get events -n $DRIFT_NS --field-selector reason=DriftCorrected):"
	echo "${drift_events:-no DriftCorrected event recorded yet}" | indent
fi

# condition NS NAME TYPE prints the condition's status and reason, "True InheritedAccessFound".
condition() {
	k get protectedservice -n "$1" "$2" \
		-o jsonpath="{.status.conditions[?(@.type==\"$3\")].status} {.status.conditions[?(@.type==\"$3\")].reason}" 2>/dev/null
}
# condition_message NS NAME TYPE prints the condition's message, folded.
condition_message() {
	k get protectedservice -n "$1" "$2" -o jsonpath="{.status.conditions[?(@.type==\"$3\")].message}{\"\n\"}" |
		fold -s -w 100 | sed 's/ *$//'
}
# wait_until PATTERN SECONDS CMD... succeeds once CMD prints what matches PATTERN (it may end
# in *), asking every 0.1 s.
wait_until() {
	local want="$1" seconds="$2" i
	shift 2
	for ((i = 0; i < seconds * 10; i++)); do
		# shellcheck disable=SC2053 # $want is a pattern
		[[ "$("$@")" == $want ]] && return 0
		sleep 0.1
	done
	return 1
}
# wait_reason NS NAME TYPE "STATUS REASON" SECONDS succeeds once the condition reads so.
wait_reason() { wait_until "$4" "$5" condition "$1" "$2" "$3"; }

step "Access granted by hand above the services: InheritedAccess (resync is $RESYNC)"
info "Someone grants $HAND_GRANTED $ACCESSOR on acme-prod's IAP level"
info "($IAP_WEB, \"All Web Services\"), as gcloud iap web add-iam-policy-binding would: every"
info "IAP-secured service of the project lets them in, whatever its ProtectedService declares. runguard never edits"
info "that policy; it reads the policies above each service as the namespace's identity, and the audit entry of the"
info "change has them read again at once."
info "before: platform/public-site InheritedAccess=$(condition platform public-site InheritedAccess)"
T_INHERITED=""
t="$(now)"
if out="$(bin/localcluster grant-above --admin "$ADMIN" --resource "$IAP_WEB" --member "$HAND_GRANTED" 2>&1)"; then
	info "$out"
	if wait_reason platform public-site InheritedAccess "True InheritedAccessFound" 10; then
		T_INHERITED="$(since "$t")"
		info "platform/public-site (bindingPolicy Exclusive, inheritedAccess Report): InheritedAccess=True after $T_INHERITED"
		condition_message platform public-site InheritedAccess | indent
		info "status.inheritedAccess (member, role, where it is granted):"
		k get protectedservice -n platform public-site \
			-o jsonpath='{range .status.inheritedAccess[*]}{.member}  {.role}  on {.where}{"\n"}{end}' | indent
	else
		problem "platform/public-site did not report the grant within 10s: InheritedAccess=$(condition platform public-site InheritedAccess)"
		condition_message platform public-site InheritedAccess | indent
	fi
else
	problem "localcluster grant-above failed: $out"
fi

step "inheritedAccess: Deny stalls an Exclusive object while such a grant exists (hack/demo/bad/stalled-inherited-access.yaml)"
info "the same platform/public-site with inheritedAccess Deny; runguard still converges the service's own policy and"
info "keeps the lockdown, but will not call the object Ready while someone else's grant lets people in:"
k apply -f hack/demo/bad/stalled-inherited-access.yaml | indent
t="$(now)"
if wait_reason platform public-site Stalled "True InheritedAccessFound" 10; then
	info "platform/public-site: Stalled=True (InheritedAccessFound) after $(since "$t"):"
	condition_message platform public-site Stalled | indent
	lockdown="$(condition platform public-site IAPEnabled) / $(condition platform public-site PublicAccessRevoked)"
	if [[ "$lockdown" == "True "*" / True "* ]]; then
		info "the lockdown holds: IAPEnabled, PublicAccessRevoked = $lockdown"
	else
		problem "the lockdown of platform/public-site does not hold while Stalled: IAPEnabled, PublicAccessRevoked = $lockdown"
	fi
else
	problem "platform/public-site did not stall with InheritedAccessFound within 10s: Stalled=$(condition platform public-site Stalled)"
fi
info "back to inheritedAccess Report (hack/demo/good/public-site.yaml):"
k apply -f hack/demo/good/public-site.yaml | indent
t="$(now)"
if wait_reason platform public-site Ready "True *" 10; then
	info "platform/public-site: Ready=True after $(since "$t"); InheritedAccess=$(condition platform public-site InheritedAccess)"
else
	problem "platform/public-site did not become Ready again within 10s: Ready=$(condition platform public-site Ready)"
fi

step "Access tests: what platform/ops-console's declaration must give, checked before any IAM write"
info "spec.accessTests: user:oncall@acme.com, on a managed device, gets into /admin/ from an office range of"
info "corp-network (203.0.113.10), and not from a carrier network (100.64.1.10); evaluated against the policy runguard"
info "would write and the grants above the service. status.accessTests, as last evaluated:"
tests="$(k get protectedservice -n platform ops-console \
	-o jsonpath='{range .status.accessTests[*]}{.name}{"\t"}{.result}{"\t"}{.passed}{"\t"}{.message}{"\n"}{end}')"
# One line per test, then what decided it, wrapped at 100 columns under it.
awk -F'\t' '{
	printf "%-24s %-6s passed=%s\n", $1, $2, $3
	n = split($4, w, " "); line = ""
	for (i = 1; i <= n; i++) {
		if (line != "" && length(line) + length(w[i]) > 96) { print "  " line; line = "" }
		line = line (line == "" ? "" : " ") w[i]
	}
	if (line != "") print "  " line
}' <<<"$tests" | indent
if [[ "$(awk -F'\t' '$3 == "true"' <<<"$tests" | wc -l)" -ne 2 ]]; then
	problem "platform/ops-console's two access tests did not both pass"
fi

step "runguard who-can and runguard can: who gets through IAP to ops-console, and would one request (docs/cli.md)"
info "read-only, as adoption@acme-ops: the service's IAP policy and every policy above it, as the manager reads them"
OPS_CONSOLE=acme-prod/europe-west1/ops-console
# shellcheck disable=SC2086 # RUNGUARD_GOOGLE_FLAGS is a list of flags
bin/runguard who-can "$OPS_CONSOLE" $RUNGUARD_GOOGLE_FLAGS | indent || problem "runguard who-can $OPS_CONSOLE did not list every grant"
# can_answer WANT-EXIT-CODE ARGS... runs runguard can and checks its exit code (0 ALLOW, 3 DENY).
can_answer() {
	local want="$1" code=0 out
	shift
	info "runguard can $*"
	# shellcheck disable=SC2086 # RUNGUARD_GOOGLE_FLAGS is a list of flags
	out="$(bin/runguard can "$@" $RUNGUARD_GOOGLE_FLAGS 2>&1)" || code=$?
	indent <<<"$out"
	[[ "$code" == "$want" ]] || problem "runguard can exited $code, want $want"
}
ONCALL_DEVICE=(--device screen_lock=true --device encryption=ENCRYPTED --groups-known)
can_answer 0 user:oncall@acme.com "$OPS_CONSOLE" --ip 203.0.113.10 --path /admin/users "${ONCALL_DEVICE[@]}"
can_answer 3 user:oncall@acme.com "$OPS_CONSOLE" --ip 100.64.1.10 --path /admin/users "${ONCALL_DEVICE[@]}"
# front_door WANT-STATUS SOURCE-IP [PRINCIPAL PATH] sends a request to ops-console, from a managed
# device, through the fake's IAP front door, which decides with an evaluator of its own
# (internal/gcpfake/frontdoor), not runguard's. Without curl it says so once and checks nothing.
front_door() {
	local want="$1" ip="$2" who="${3:-user:oncall@acme.com}" path="${4:-/admin/users}" got
	if ! command -v curl >/dev/null 2>&1; then
		info "curl is not installed, so the request through the fake's IAP front door is skipped (Debian/Ubuntu: apt-get install curl)"
		return
	fi
	got="$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $OPS_HOST" -H "X-Runguard-Test-Principal: $who" \
		-H "X-Runguard-Test-Source-IP: $ip" -H "X-Runguard-Test-Device: screen_lock=true,encryption=ENCRYPTED" \
		"http://127.0.0.1:$FRONT_PORT$path")" || true
	info "curl -H 'Host: $OPS_HOST' http://127.0.0.1:$FRONT_PORT$path as $who from $ip: HTTP $got"
	[[ "$got" == "$want" ]] || problem "the fake's IAP front door answered $got, want $want"
}
OPS_HOST="$(k get protectedservice -n platform ops-console -o jsonpath='{.status.serviceURI}')"
OPS_HOST="${OPS_HOST#https://}"
info "the same two requests through the fake's IAP front door (--frontdoor-listen, docs/gcpfake.md), with the test headers it reads:"
front_door 200 203.0.113.10
front_door 403 100.64.1.10

step "AccessGrants: temporary access asked for by one user, approved by another, ended by Google's own condition (docs/access-grants.md)"
info "alice@acme.com asks for $GRANT_FOR of access for $GRANT_MEMBER to ops-console's sre group, narrowed to"
info "/debug/ (the group's access levels still apply). runguard grant request writes her name into spec.requestedBy"
info "(the admission policy refuses any other); namespace platform needs one approval by someone else (the default):"
RG_PLATFORM=(--kubeconfig "$KCFG" -n platform)
# grant_state prints the AccessGrant's phase and its Active condition's reason, "Active Bound".
grant_state() {
	k get accessgrant -n platform "$GRANT_NAME" -o jsonpath='{.status.phase} {.status.conditions[?(@.type=="Active")].reason}' 2>/dev/null
}
# grant_in_google succeeds while ops-console's IAP policy in the fake holds the grant's binding.
grant_in_google() { [[ "$(bin/localcluster google-state --admin "$ADMIN")" == *"runguard:grant.$GRANT_NAME "* ]]; }
# epoch_of prints an RFC 3339 UTC time as seconds since 1970 (GNU date, else BSD date).
epoch_of() { date -u -d "$1" +%s 2>/dev/null || date -u -j -f '%Y-%m-%dT%H:%M:%SZ' "$1" +%s; }
T_GRANT_GONE=""
bin/runguard grant request ops-console --name "$GRANT_NAME" --member "$GRANT_MEMBER" --for "$GRANT_FOR" --path-prefix /debug/ \
	--reason "INC-4711: debug the export outage" "${RG_PLATFORM[@]}" --as alice@acme.com | indent ||
	problem "runguard grant request as alice@acme.com failed"
if wait_until "Pending AwaitingApproval" 10 grant_state; then
	bin/runguard grant list ops-console "${RG_PLATFORM[@]}" | indent
else
	problem "AccessGrant $GRANT_NAME is not Pending AwaitingApproval: $(grant_state)"
fi
info "alice may approve grants too (hack/demo/access-grants.yaml), but not her own; the admission policy refuses it:"
if out="$(bin/runguard grant approve "$GRANT_NAME" "${RG_PLATFORM[@]}" --as alice@acme.com 2>&1)"; then
	problem "alice@acme.com approved her own grant"
fi
fold -s -w 100 <<<"$out" | indent
info "bob@acme.com approves it:"
t="$(now)"
bin/runguard grant approve "$GRANT_NAME" "${RG_PLATFORM[@]}" --as bob@acme.com | fold -s -w 100 | indent ||
	problem "runguard grant approve as bob@acme.com failed"
if wait_until "Active Bound" 10 grant_state; then
	info "Active, and its binding found in Google, $(since "$t") after the approval:"
	bin/runguard grant list ops-console "${RG_PLATFORM[@]}" | indent
	info "ops-console's IAP policy (bin/localcluster google-state): the group's context, narrowed, and an end IAM itself"
	info "enforces, whether or not runguard runs then:"
	# The grant's binding, its condition one clause a line.
	awk -v title="runguard:grant.$GRANT_NAME " '
		index($0, title) { f = 1 }
		f && /^ *when / { gsub(/ && /, "\n                 \\&\\& "); print; exit }
		f { print }' <<<"$(bin/localcluster google-state --admin "$ADMIN")" | indent
	front_door 200 203.0.113.10 "$GRANT_MEMBER" /debug/vars
	front_door 403 203.0.113.10 "$GRANT_MEMBER" /admin/users
	expires="$(k get accessgrant -n platform "$GRANT_NAME" -o jsonpath='{.status.expiresAt}')"
	info "waiting for its expiry ($expires); runguard comes back at that moment to remove the binding"
	gone_at=""
	for ((i = 0; i < 600; i++)); do
		if ! grant_in_google; then
			gone_at="$(now)"
			break
		fi
		sleep 0.1
	done
	if [[ -z "$gone_at" ]]; then
		problem "the binding of AccessGrant $GRANT_NAME is still in ops-console's IAP policy a minute later"
	else
		T_GRANT_GONE="$(awk -v a="$(epoch_of "$expires")" -v b="$gone_at" 'BEGIN { printf "%.1fs", b - a }')"
		info "the binding is gone from ops-console's IAP policy, $T_GRANT_GONE after status.expiresAt"
		awk -v d="${T_GRANT_GONE%s}" 'BEGIN { exit !(d <= 5) }' || problem "the binding went $T_GRANT_GONE after expiry, want within 5s"
	fi
	if wait_until "Expired Expired" 10 grant_state; then
		bin/runguard grant list ops-console "${RG_PLATFORM[@]}" | indent
	else
		problem "AccessGrant $GRANT_NAME is not Expired: $(grant_state)"
	fi
	front_door 403 203.0.113.10 "$GRANT_MEMBER" /debug/vars
else
	problem "AccessGrant $GRANT_NAME did not become Active and Bound within 10s: $(grant_state)"
fi

step "Summary"
if ((FAILURES > 0)); then
	info "$FAILURES PROBLEM(S) above. Logs: ${LOG_DIR#"$ROOT"/}/"
	info "manager log (last 20 lines):"
	tail -n 20 "$LOG_DIR/manager.log" | indent
else
	info "every object reached its expected condition $T_CONVERGED after kubectl apply"
	info "an out-of-band grant of allUsers was taken back by an audit log event in $T_DRIFT (resync $RESYNC)"
	info "kubectl apply refused an object its namespace may not target (admission policy); platform acted as its own identity"
	info "a grant made by hand on $IAP_WEB showed in status.inheritedAccess in $T_INHERITED; Deny stalled, Report is Ready"
	info "ops-console's access tests passed; runguard can answered ALLOW from the office and DENY from elsewhere, and so did the fake's IAP front door"
	info "an AccessGrant requested by alice and approved by bob let $GRANT_MEMBER in for $GRANT_FOR; its binding went $T_GRANT_GONE after expiry"
fi
info "start-up of control plane, fake and manager: $T_STARTUP; total time: $(since "$T0")"
info "inspect the fake with your own gcloud while the demo runs (docs/gcpfake.md):"
info "  source ${GCLOUD_ENV#"$ROOT"/}"
info "  gcloud beta iap web get-iam-policy --resource-type=cloud-run --service=$DRIFT_OBJECT --region=us-central1"

if [[ -n "$DEMO_EXIT" && "$DEMO_EXIT" != 0 ]]; then
	if ((FAILURES > 0)); then exit 1; fi
	exit 0
fi

STAYING_UP=1
KUBECTL_DIR="${ASSETS#"$ROOT"/}"
cat <<EOF

==> The demo stays up until you press Ctrl-C. To explore, in another terminal:

    cd $ROOT
    export KUBECONFIG=$KCFG
    export PATH="\$PWD/$KUBECTL_DIR:\$PWD/bin:\$PATH"  # the kubectl the demo built, and kubectl-runguard

    kubectl get protectedservices -A -w            # watch the objects (short name: psvc)
    kubectl edit psvc -n finance billing-dashboard # add or remove a member, save, and watch it converge
    bin/localcluster google-state --admin $ADMIN   # Google Cloud's side
    kubectl get accesslevels -o wide               # the access levels runguard manages (short name: acl)

    # Let finance target acme-payroll; the refused manifest is then admitted. runguard's own
    # identity holds no role there, so it goes Stalled with PermissionDenied, naming what it lacks
    kubectl annotate ns finance --overwrite iap.runguard.dev/allowed-projects=acme-prod,acme-payroll
    kubectl apply -f hack/demo/bad/refused-project-not-allowed.yaml

    # Stop runguard minting tokens for platform's service account: within the token's life
    # (an hour; the fake's --token-lifetime shortens it) platform's objects go Stalled with
    # NamespaceIdentityUnusable, and nothing is called in Google as runguard instead
    curl -s -X DELETE $ADMIN/serviceAccounts/platform-team@acme-ops.iam.gserviceaccount.com/tokenCreators/serviceAccount:runguard@acme-ops.iam.gserviceaccount.com

    # Change Google Cloud behind runguard's back (make public-site public again); the fake
    # publishes an audit entry and runguard puts it back within a second or two:
    curl -s -X PUT $ADMIN/policies/service/acme-prod/us-central1/public-site \\
      -d '{"bindings":[{"role":"roles/run.invoker","members":["allUsers"]}]}'
    kubectl get events -A --field-selector reason=DriftCorrected
    # Time one: grant allUsers on billing-dashboard and wait until it is taken back
    bin/localcluster drift-by-event --admin $ADMIN --service $DRIFT_SERVICE
    # Widen the corp_network access level behind runguard's back (read it, replace one range,
    # write it back, as the console would); its audit entry gets it corrected at once
    curl -s $ADMIN/accessLevels/123456789/corp_network | sed 's#198.51.100.0/24#0.0.0.0/0#' |
      curl -s -X PUT $ADMIN/accessLevels/123456789/corp_network -d @-
    kubectl get events --field-selector involvedObject.kind=AccessLevel

    # Who gets through IAP to a service, and would one request (docs/cli.md), as the adoption identity
    source ${RUNGUARD_ENV#"$ROOT"/}
    bin/runguard who-can acme-prod/us-central1/public-site \$RUNGUARD_GOOGLE_FLAGS
    bin/runguard can $HAND_GRANTED acme-prod/us-central1/billing-dashboard \$RUNGUARD_GOOGLE_FLAGS
    # Who else may pass IAP, granted above the services (runguard reads, never edits, those):
    kubectl get psvc -A -o custom-columns='OBJECT:.metadata.name,INHERITED:.status.inheritedAccess[*].member'
    # Take back the grant the demo made by hand on acme-prod's IAP level; its audit entry clears
    # status.inheritedAccess at once. Grant one on the project's own policy instead:
    bin/localcluster grant-above --admin $ADMIN --resource $IAP_WEB --member $HAND_GRANTED --revoke
    bin/localcluster grant-above --admin $ADMIN --resource projects/acme-prod --member user:contractor@acme.com
    # A folder's or the organization's grant is read at each object's next pass: its resync
    # ($RESYNC here), or an edit of the object; its audit entry wakes none (it could be thousands)
    bin/localcluster grant-above --admin $ADMIN --resource folders/300 --member group:sre@acme.com

    # Temporary access (docs/access-grants.md): alice asks, bob approves, Google ends it
    kubectl runguard grant request ops-console -n platform --as alice@acme.com --member $GRANT_MEMBER --for 10m --reason "INC-4712"
    kubectl runguard grant approve NAME -n platform --as bob@acme.com   # NAME: what the request printed
    kubectl runguard grant list -n platform
    kubectl runguard grant request ops-console -n platform --as alice@acme.com --member $GRANT_MEMBER --for 10m --reason "INC-4713" --break-glass
    kubectl get events -n platform --field-selector reason=BreakGlass

    kubectl delete psvc -n finance billing-dashboard  # deletionPolicy Delete: its bindings go, IAP stays on

    # Adopt legacy-wiki, which nobody manages yet: export, apply in Observe, read the plan,
    # then enforce (the walk-through is docs/adoption.md)
    source ${RUNGUARD_ENV#"$ROOT"/}
    bin/runguard export --project acme-prod --location europe-west1 --service legacy-wiki --namespace adoption \$RUNGUARD_FLAGS > legacy-wiki.yaml
    kubectl apply -f legacy-wiki.yaml && kubectl get psvc -n adoption legacy-wiki

    Logs:    ${LOG_DIR#"$ROOT"/}/{manager,gcpfake,localcluster,kube-apiserver,etcd}.log
    Metrics: curl -s http://127.0.0.1:$METRICS_PORT/metrics | grep runguard_
    Audit entries the fake published: curl -s $ADMIN/audit
    The fake's admin API (calls, faults, out-of-band changes): docs/gcpfake.md
EOF

while true; do
	for ((i = 0; i < ${#PIDS[@]}; i++)); do
		if ! alive "${PIDS[i]}"; then
			die "${NAMES[i]} exited unexpectedly; see $LOG_DIR/${NAMES[i]}.log"
		fi
	done
	sleep 2
done

-- Argo CD health check for iap.runguard.dev/ProtectedService.
-- Install it in argocd-cm under resource.customizations.health.iap.runguard.dev_ProtectedService
-- (docs/gitops.md). It reads the conditions runguard writes, kstatus-style:
--   being deleted                          -> Progressing
--   status not yet about the current spec  -> Progressing (metadata.generation > observedGeneration)
--   Stalled=True (needs a human)           -> Degraded, with the reason and message
--   Paused=True (iap.runguard.dev/paused)  -> Suspended
--   Ready=True                             -> Healthy
--   anything else (Reconciling, rollout, service not deployed yet, retrying) -> Progressing
local hs = {}

local function findCondition(conditions, conditionType)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

local function describe(c)
  local reason = c.reason or ""
  local message = c.message or ""
  if reason ~= "" and message ~= "" then
    return reason .. ": " .. message
  end
  if reason ~= "" then
    return reason
  end
  return message
end

local function isTrue(c)
  return c ~= nil and c.status == "True"
end

-- A condition written for an older generation says nothing about the current spec.
local function current(c, generation)
  return c ~= nil and (generation == nil or c.observedGeneration == nil or c.observedGeneration >= generation)
end

local metadata = obj.metadata or {}
local status = obj.status
local generation = metadata.generation
local conditions = nil
if status ~= nil then
  conditions = status.conditions
end
local stalled = findCondition(conditions, "Stalled")

if metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Being deleted: runguard releases its finalizer once this object's bindings are handled per spec.deletionPolicy."
  if isTrue(stalled) then
    hs.message = hs.message .. " Last reported problem: " .. describe(stalled)
  end
  return hs
end

if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for runguard to reconcile this ProtectedService."
  return hs
end

if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for runguard to reconcile generation " .. tostring(generation) .. "."
  return hs
end

local paused = findCondition(conditions, "Paused")
if isTrue(paused) and current(paused, generation) then
  hs.status = "Suspended"
  hs.message = describe(paused)
  return hs
end

if isTrue(stalled) and current(stalled, generation) then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end

local ready = findCondition(conditions, "Ready")
if isTrue(ready) and current(ready, generation) then
  hs.status = "Healthy"
  hs.message = ready.message or ""
  return hs
end

hs.status = "Progressing"
local reconciling = findCondition(conditions, "Reconciling")
if isTrue(reconciling) then
  hs.message = describe(reconciling)
elseif ready ~= nil then
  hs.message = describe(ready)
else
  hs.message = "Waiting for runguard to reconcile this ProtectedService."
end
return hs

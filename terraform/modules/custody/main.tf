# custody's setup on a Vault/OpenBao, the same as `custody bootstrap` makes it: the KV v2 state mount with audit
# tuning, one ACL policy per role read from custody/policies/*.hcl (the files the package ships), AppRoles for the
# server and the rotation cron, and one identity group per human role. Group members are left to you (people's
# entities, or your OIDC/LDAP group as a member group); AppRole secret_ids are not created here, so they never land
# in Terraform state.

locals {
  policy_dir = coalesce(var.policy_dir, "${path.module}/../../../custody/policies")

  # Every file in custody/policies/, by name. A new policy file without an entry here fails the agreement test.
  policy_names = [
    "custody-approver",
    "custody-auditor",
    "custody-emergency",
    "custody-requester",
    "custody-rotation",
    "custody-security",
    "custody-service",
  ]

  # Identity groups and the policies their members get.
  groups = {
    "custody-security"   = ["custody-security"]
    "custody-requesters" = ["custody-requester"]
    "custody-emergency"  = ["custody-requester", "custody-emergency"]
    "custody-approvers"  = ["custody-approver"]
    "custody-auditors"   = ["custody-auditor"]
  }

  # Record fields Vault's audit log shows in clear, so an auditor can follow a grant from Vault's own evidence
  # (custody/repo/records.py NON_HMAC_KEYS). Never "code" or "codes": those stay HMAC'd.
  non_hmac_keys = [
    "event", "actor", "actor_entity", "at", "account", "owner", "tier", "approvals_required", "total", "remaining",
    "generation", "deposited_by", "deposited_at", "destroyed_versions", "grant_id", "requester", "requester_entity",
    "reason", "ticket", "status", "approvals", "approver", "approver_entity", "comment", "emergency", "created_at",
    "expires_at", "revealed_at", "code_fp", "reviewed_by", "reviewed_at", "revoked_reason", "denied_by", "path",
    "capability", "fp", "consumed_at", "rotation", "count", "previous_versions", "previous_generation",
    "new_version", "new_set", "started_at", "completed_at", "revoked_grants", "custom_metadata",
    "ownership", "human_owner", "changed",
    # keys, waves, drills, people, leaked codes and rotation marks
    "drill", "requester_email", "burned_at", "roster", "removed", "label", "custodian", "serial", "model", "location",
    "added_at", "added_by", "verified_at", "verified_by", "left_at", "removed_by", "removed_at", "wave", "accounts",
    "window_start", "window_end", "created_by", "scenario", "witness", "started_by", "finished_at", "finished_by",
    "result", "participants", "name", "entity", "step", "security_team", "email", "offboarded_at",
    "offboarded_by", "runs", "revoked", "keys_marked", "rotation_due", "marks", "kind", "message", "since", "source",
  ]
}

resource "vault_mount" "kv" {
  path                         = var.kv_mount
  type                         = "kv"
  options                      = { version = "2" }
  description                  = "custody state (service only)"
  audit_non_hmac_request_keys  = local.non_hmac_keys
  audit_non_hmac_response_keys = local.non_hmac_keys
}

resource "vault_kv_secret_backend_v2" "kv" {
  mount        = vault_mount.kv.path
  max_versions = var.kv_max_versions
  # Every write must name the version it read, so concurrent replicas never lose an update.
  cas_required = true
  # Never delete versions on a timer: the code sets would vanish under the sweep and the reveals.
  delete_version_after = 0
}

resource "vault_policy" "custody" {
  for_each = toset(local.policy_names)

  name = each.key
  # The files name the mount "custody-kv"; follow var.kv_mount as `custody bootstrap --mount` does.
  policy = replace(file("${local.policy_dir}/${each.key}.hcl"), "\"custody-kv/", "\"${var.kv_mount}/")
}

resource "vault_auth_backend" "approle" {
  type = "approle"
  path = var.approle_mount
}

resource "vault_approle_auth_backend_role" "service" {
  backend                 = vault_auth_backend.approle.path
  role_name               = "custody-service"
  token_policies          = [vault_policy.custody["custody-service"].name]
  token_no_default_policy = true # custody-service grants all it needs (its KV mount, its cubbyhole); see custody/bootstrap.py
  token_ttl               = var.service_token_ttl
  token_max_ttl           = var.service_token_max_ttl
  token_type              = "service"
  token_period            = 0 # no periodic tokens: a period outlives token_max_ttl
  token_explicit_max_ttl  = 0
  token_num_uses          = 0
  bind_secret_id          = true
  secret_id_ttl           = var.secret_id_ttl
  secret_id_num_uses      = 0
  secret_id_bound_cidrs   = var.service_cidrs
  token_bound_cidrs       = var.service_cidrs
}

resource "vault_approle_auth_backend_role" "rotation" {
  backend                 = vault_auth_backend.approle.path
  role_name               = "custody-rotation"
  token_policies          = [vault_policy.custody["custody-rotation"].name]
  token_no_default_policy = false # it calls the custody API, which asks sys/capabilities-self with its token
  token_ttl               = var.rotation_token_ttl
  token_max_ttl           = var.rotation_token_max_ttl
  token_type              = "service"
  token_period            = 0 # no periodic tokens: a period outlives token_max_ttl
  token_explicit_max_ttl  = 0
  token_num_uses          = 0
  bind_secret_id          = true
  secret_id_ttl           = var.secret_id_ttl
  secret_id_num_uses      = 0
  secret_id_bound_cidrs   = var.rotation_cidrs
  token_bound_cidrs       = var.rotation_cidrs
}

resource "vault_identity_group" "custody" {
  for_each = local.groups

  name     = each.key
  type     = "internal"
  policies = [for p in each.value : vault_policy.custody[p].name]
  # Members are managed outside this module (and outside `custody bootstrap`): never remove them on apply.
  external_member_entity_ids = true
  external_member_group_ids  = true
}

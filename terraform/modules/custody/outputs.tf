output "kv_mount" {
  description = "The KV v2 mount holding custody's state: set CUSTODY_KV_MOUNT to it."
  value       = vault_mount.kv.path
}

output "service_role_id" {
  description = "role_id of the custody-service AppRole: set CUSTODY_ROLE_ID to it. Not a secret on its own."
  value       = vault_approle_auth_backend_role.service.role_id
}

output "rotation_role_id" {
  description = "role_id of the custody-rotation AppRole, for the rotation cron."
  value       = vault_approle_auth_backend_role.rotation.role_id
}

output "approle_mount" {
  description = "Path of the AppRole auth method: set CUSTODY_APPROLE_MOUNT to it."
  value       = vault_auth_backend.approle.path
}

output "group_ids" {
  description = "Identity group ids by name: add people's entities or your external groups to them."
  value       = { for name, g in vault_identity_group.custody : name => g.id }
}

output "policy_names" {
  description = "The ACL policies written."
  value       = sort([for p in vault_policy.custody : p.name])
}

output "evidence_key" {
  description = "The transit key that signs evidence packs: its public half verifies them (docs/evidence.md)."
  value       = "${vault_mount.transit.path}/keys/${vault_transit_secret_backend_key.evidence.name}"
}

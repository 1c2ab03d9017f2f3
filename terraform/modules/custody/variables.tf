# Defaults equal custody/bootstrap.py: `custody bootstrap --dry-run` against a Vault this module set up reports no
# change, and tests/unit/test_terraform_agreement.py fails when the two drift apart.

variable "kv_mount" {
  description = "Path of the KV v2 mount that holds custody's state (only the custody-service AppRole may use it)."
  type        = string
  default     = "custody-kv"
}

variable "kv_max_versions" {
  description = "Versions kept per KV record: enough to see past rotations; older ones are destroyed on rotation."
  type        = number
  default     = 20
}

variable "approle_mount" {
  description = "Path of the AppRole auth method (created by this module)."
  type        = string
  default     = "approle"
}

variable "policy_dir" {
  description = "Directory holding custody's policy files (*.hcl); by default the package's own, custody/policies/."
  type        = string
  default     = null
}

variable "service_token_ttl" {
  description = "TTL in seconds of the custody server's tokens (it logs in again before they end)."
  type        = number
  default     = 3600
}

variable "service_token_max_ttl" {
  description = "Maximum TTL in seconds of the custody server's tokens."
  type        = number
  default     = 14400
}

variable "rotation_token_ttl" {
  description = "TTL in seconds of the rotation cron's tokens (one sweep per login)."
  type        = number
  default     = 900
}

variable "rotation_token_max_ttl" {
  description = "Maximum TTL in seconds of the rotation cron's tokens."
  type        = number
  default     = 3600
}

variable "secret_id_ttl" {
  description = "Lifetime in seconds of AppRole secret_ids (0: no expiry; rotate them, see docs/operations.md)."
  type        = number
  default     = 0
}

variable "service_cidrs" {
  description = "CIDR blocks the custody server logs in from; binds its secret_id and tokens. Empty: anywhere."
  type        = list(string)
  default     = []
}

variable "rotation_cidrs" {
  description = "CIDR blocks the rotation cron logs in from. Empty: anywhere."
  type        = list(string)
  default     = []
}

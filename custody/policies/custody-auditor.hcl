# custody-auditor: read-only view of accounts, code counts (never codes), grants and audit summaries.
# What this grants, path by path, is specified and tested in docs/threat-model.md ("Access matrix").

path "custody/accounts" {
  capabilities = ["list"]
}

path "custody/accounts/+/+" {
  capabilities = ["read"]
}

path "custody/accounts/+/+/codes" {
  capabilities = ["read"]
}

path "custody/codes" {
  capabilities = ["list"]
}

path "custody/grants" {
  capabilities = ["list"]
}

path "custody/grants/+" {
  capabilities = ["read"]
}

path "custody/audit/*" {
  capabilities = ["read"]
}

# The rollout's evidence: key rosters and their check, enrolment waves, recovery drills, leavers.
path "custody/accounts/+/+/keys" {
  capabilities = ["read"]
}

path "custody/keys" {
  capabilities = ["list"]
}

path "custody/keys/check" {
  capabilities = ["read"]
}

path "custody/rollout/status" {
  capabilities = ["read"]
}

path "custody/drills" {
  capabilities = ["list"]
}

path "custody/drills/+" {
  capabilities = ["read"]
}

path "custody/people/+" {
  capabilities = ["read"]
}

path "custody-kv/*" {
  capabilities = ["deny"]
}

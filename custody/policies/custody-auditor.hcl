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

path "custody-kv/*" {
  capabilities = ["deny"]
}

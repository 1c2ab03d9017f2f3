# custody-security: the security team. Registers accounts, deposits and rotates their recovery codes, and sees
# every grant. It cannot reveal a code: break-glass goes through a grant like everyone else's.
# What this grants, path by path, is specified and tested in docs/threat-model.md ("Access matrix").

path "custody/accounts" {
  capabilities = ["list"]
}

path "custody/accounts/+/+" {
  capabilities = ["create", "read", "update"]
}

path "custody/accounts/+/+/codes" {
  capabilities = ["create", "read", "update"]
}

path "custody/accounts/+/+/rotate" {
  capabilities = ["update"]
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

path "custody/grants/+/deny" {
  capabilities = ["update"]
}

path "custody/rotation/sweep" {
  capabilities = ["read", "update"]
}

# Nobody but the service reads the custody KV mount, root aside.
path "custody-kv/*" {
  capabilities = ["deny"]
}

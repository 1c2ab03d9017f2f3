# custody-requester: engineers. They may ask for break-glass access to an account with a reason, see their own
# grants (the service shows a requester only their own), and reveal a code of a grant that was approved for them.
# What this grants, path by path, is specified and tested in docs/threat-model.md ("Access matrix").

path "custody/accounts" {
  capabilities = ["list"]
}

path "custody/accounts/+/+" {
  capabilities = ["read"]
}

path "custody/accounts/+/+/grants" {
  capabilities = ["create", "update"]
}

path "custody/grants" {
  capabilities = ["list"]
}

path "custody/grants/+/reveal" {
  capabilities = ["update"]
}

# A custodian confirms they hold a key of the roster; the service checks it is their key (by their entity's email).
path "custody/accounts/+/+/keys/verify" {
  capabilities = ["update"]
}

# Codes are reached only through custody's grants and wrapping tokens, never in the mount itself.
path "custody-kv/*" {
  capabilities = ["deny"]
}

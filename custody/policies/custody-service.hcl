# custody-service: the custody API server's own identity (AppRole "custody-service").
# The only principal that may touch the custody KV mount. It reads and writes state with check-and-set,
# destroys old code versions on rotation, and hands a code over by staging it in its own token's cubbyhole and
# reading it back into a response-wrapping token (revoking the one a reveal handed out before, if asked again).
# It needs nothing under custody/ (that is the API path humans are authorized on).
# Its tokens carry this policy alone, without Vault's `default` policy (token_no_default_policy).
# What this grants, path by path, is specified and tested in docs/threat-model.md ("Access matrix").

path "custody-kv/data/*" {
  capabilities = ["create", "read", "update"]
}

path "custody-kv/metadata/*" {
  # create/update: the non-secret per-account summary a rotation sweep reads (KV custom_metadata)
  capabilities = ["create", "read", "update", "list", "delete"]
}

path "custody-kv/destroy/*" {
  capabilities = ["update"]
}

path "custody-kv/config" {
  capabilities = ["read"]
}

# The email metadata of a caller's entity: how custody knows a person by email (grants record it, a key's
# custodian is checked against it). Read only, one entity at a time; no listing, no lookup by name.
path "identity/entity/id/+" {
  capabilities = ["read"]
}

path "cubbyhole/reveals/*" {
  # a code, for the instant of a reveal: only this very token can read its own cubbyhole
  capabilities = ["create", "read", "update", "delete"]
}

path "auth/token/revoke-accessor" {
  # the wrapping token an earlier reveal of a grant handed out, before the same code goes out again
  capabilities = ["update"]
}

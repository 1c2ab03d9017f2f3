# custody-emergency: on-call engineers who may take a code at once on an account that needs approvals
# (added on top of custody-requester). Every such grant is flagged and lands on the post-hoc review list.
# What this grants, path by path, is specified and tested in docs/threat-model.md ("Access matrix").

path "custody/accounts/+/+/emergency" {
  capabilities = ["update"]
}

path "custody-kv/*" {
  capabilities = ["deny"]
}

# Only the custody service signs with the evidence key.
path "custody-transit/*" {
  capabilities = ["deny"]
}

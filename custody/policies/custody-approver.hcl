# custody-approver: people who approve or deny break-glass requests and review emergency grants. The service
# adds what policy cannot say: never one's own request, each person counts once.
# What this grants, path by path, is specified and tested in docs/threat-model.md ("Access matrix").

path "custody/accounts" {
  capabilities = ["list"]
}

path "custody/accounts/+/+" {
  capabilities = ["read"]
}

path "custody/grants" {
  capabilities = ["list"]
}

path "custody/grants/+" {
  capabilities = ["read"]
}

path "custody/grants/+/approve" {
  capabilities = ["update"]
}

path "custody/grants/+/deny" {
  capabilities = ["update"]
}

path "custody/grants/+/review" {
  capabilities = ["update"]
}

# A custodian confirms they hold a key of the roster; the service checks it is their key (by their entity's email).
path "custody/accounts/+/+/keys/verify" {
  capabilities = ["update"]
}

path "custody-kv/*" {
  capabilities = ["deny"]
}

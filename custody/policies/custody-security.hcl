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

# The WebAuthn key roster of each account (keys check is read by auditors and the rotation cron too).
path "custody/accounts/+/+/keys" {
  capabilities = ["create", "read"]
}

path "custody/accounts/+/+/keys/remove" {
  capabilities = ["update"]
}

path "custody/accounts/+/+/keys/reassign" {
  capabilities = ["update"]
}

# A security-team member may hold keys too; the service accepts a verification only from the key's custodian.
path "custody/accounts/+/+/keys/verify" {
  capabilities = ["update"]
}

path "custody/keys" {
  capabilities = ["list"]
}

path "custody/keys/check" {
  capabilities = ["read"]
}

# Enrolment waves.
path "custody/rollout/waves/+" {
  capabilities = ["create"]
}

path "custody/rollout/status" {
  capabilities = ["read"]
}

# Recovery drills: the security team starts and finishes them (the grants in them are requested, approved and
# revealed by whoever's policies allow it, as any grant).
path "custody/drills" {
  capabilities = ["create", "list"]
}

path "custody/drills/+" {
  capabilities = ["read"]
}

path "custody/drills/+/finish" {
  capabilities = ["update"]
}

# Leavers.
path "custody/people/+" {
  capabilities = ["read"]
}

path "custody/people/+/offboard" {
  capabilities = ["update"]
}

# Leaked codes: which account holds a code, and burning it.
path "custody/codes/identify" {
  capabilities = ["update"]
}

path "custody/accounts/+/+/codes/burn" {
  capabilities = ["update"]
}

# Nobody but the service reads the custody KV mount, root aside.
path "custody-kv/*" {
  capabilities = ["deny"]
}

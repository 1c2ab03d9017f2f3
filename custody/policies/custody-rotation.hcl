# custody-rotation: the rotation cron (AppRole "custody-rotation"). It may run the sweep and read code
# counts, nothing else: it never sees a code and cannot change one. Running the sweep with update (POST) also
# records the expiry of grants past their time, which only writes down what is already enforced.
# What this grants, path by path, is specified and tested in docs/threat-model.md ("Access matrix").

path "custody/rotation/sweep" {
  capabilities = ["read", "update"]
}

path "custody/codes" {
  capabilities = ["list"]
}

path "custody/accounts" {
  capabilities = ["list"]
}

# The same cron checks the key roster (`custody keys check`, exit 3 when an account is not ok).
path "custody/keys/check" {
  capabilities = ["read"]
}

path "custody-kv/*" {
  capabilities = ["deny"]
}

#!/usr/bin/env bash
# The 60-second tour: a real OpenBao, the custody server, and one break-glass access from request to reveal.
set -euo pipefail
DIR="${CUSTODY_DEMO_DIR:-$(mktemp -d)/custody-demo}"
trap 'custody dev down --dir "$DIR" >/dev/null' EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
as() { local who=$1; shift; VAULT_TOKEN="$(python -c 'import json,sys; print(json.load(open(sys.argv[1]))["tokens"][sys.argv[2]])' "$DIR/up.json" "$who")" "$@"; }

say "Starting OpenBao (dev, file audit device) and the custody API server"
mkdir -p "$DIR"
custody dev up --dir "$DIR" --format json > "$DIR/up.json"
export CUSTODY_ADDR VAULT_ADDR
CUSTODY_ADDR=$(python -c 'import json,sys; print(json.load(open(sys.argv[1]))["custody_addr"])' "$DIR/up.json")
VAULT_ADDR=$(python -c 'import json,sys; print(json.load(open(sys.argv[1]))["vault_addr"])' "$DIR/up.json")
echo "custody at $CUSTODY_ADDR, OpenBao at $VAULT_ADDR, audit log $DIR/audit.log"

say "Security team registers two PyPI accounts"
as security custody accounts add pypi/acme-publisher --owner pypi-owners@acme.example --tier critical
as security custody accounts add pypi/acme-docs-bot --owner docs@acme.example

say "...and deposits their recovery codes (the file PyPI lets you save; 7 codes: one was burned at enrolment)"
python - "$DIR/codes.txt" <<'PY'
import secrets, sys
open(sys.argv[1], "w").write("".join(secrets.token_hex(8) + "\n" for _ in range(7)))
PY
as security custody codes deposit pypi/acme-publisher --file "$DIR/codes.txt"
python -c 'import secrets; [print(secrets.token_hex(8)) for _ in range(8)]' | as security custody codes deposit pypi/acme-docs-bot
rm -f "$DIR/codes.txt"
as security custody codes status

say "An engineer lost their key and asks for break-glass access, with a reason"
GRANT=$(as engineer custody access request pypi/acme-publisher --ticket SEC-1042 \
  --reason "Lost my hardware key while travelling; need to log in to revoke a leaked API token" --format json \
  | python -c 'import json,sys; print(json.load(sys.stdin)["id"])')
as engineer custody access show "$GRANT"

say "The engineer cannot approve their own request; two approvers do"
as engineer custody access approve "$GRANT" || echo "(refused, as it should be)"
as approver custody access approve "$GRANT" --comment "confirmed on a call"
as approver2 custody access approve "$GRANT" --comment "ok"

say "The engineer reveals one single-use code (through a Vault wrapping token they unwrap themselves)"
as engineer custody access reveal "$GRANT"

say "A second reveal of the same grant is refused"
as engineer custody access reveal "$GRANT" || echo "(refused, as it should be)"

say "Nobody but the service can read the codes in Vault, not even with a valid engineer token"
as engineer bao kv get -address="$VAULT_ADDR" custody-kv/codes/pypi/acme-publisher || echo "(403, as it should be)"

say "State afterwards: one code fewer, the account is due for rotation"
as security custody codes status
as auditor custody access list

say "Done: stopping everything"

#!/usr/bin/env bash
# Starts the Auth and API servers on a throwaway SQLite database with a demo
# client and user, prints how to call them, and stops both on Ctrl-C.
#
# Reference tokens are on unless UseReferenceTokens=false is set in the
# environment, so that revoking a token visibly stops it at the API.
set -euo pipefail
cd "$(dirname "$0")/.."

demo_dir=data/demo
client_id=demo
client_secret=demo-secret-0123456789
username=alice
password=demo-password

echo "Building the servers (the first build takes a few minutes)..."
cargo build --quiet --bins

rm -rf "$demo_dir"
mkdir -p "$demo_dir"
export ConnectionStrings__Default="sqlite://$demo_dir/tokens.db"
export UseReferenceTokens="${UseReferenceTokens:-true}"

./target/debug/auth-server clients add "$client_id" --secret "$client_secret" \
    --grant-types client_credentials,password,refresh_token \
    --scopes "all read:tickets edit:tickets" 2>>"$demo_dir/admin.log"
printf '%s\n' "$password" | ./target/debug/auth-server users add "$username" --password-stdin \
    2>>"$demo_dir/admin.log"

./target/debug/auth-server serve >"$demo_dir/auth.out" 2>"$demo_dir/auth.log" &
auth_pid=$!
./target/debug/api-server serve >"$demo_dir/api.out" 2>"$demo_dir/api.log" &
api_pid=$!
stop_servers() {
    kill "$auth_pid" "$api_pid" 2>/dev/null || true
    wait "$auth_pid" "$api_pid" 2>/dev/null || true
}
trap stop_servers EXIT INT TERM

# Read each server's address from its "Now listening on:" line.
wait_for_address() {
    local name=$1 pid=$2 out=$3 log=$4
    for _ in $(seq 1 100); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "error: the $name server stopped; its log ($log):" >&2
            tail -n 20 "$log" >&2
            exit 1
        fi
        local address
        address=$(sed -n 's/^Now listening on: //p' "$out" | head -n 1)
        if [ -n "$address" ] && curl -fsS "$address/health/ready" >/dev/null 2>&1; then
            echo "$address"
            return
        fi
        sleep 0.1
    done
    echo "error: the $name server did not become ready; see $log" >&2
    exit 1
}
auth_url=$(wait_for_address Auth "$auth_pid" "$demo_dir/auth.out" "$demo_dir/auth.log")
api_url=$(wait_for_address API "$api_pid" "$demo_dir/api.out" "$demo_dir/api.log")

cat <<TEXT

Auth server: $auth_url   (logs: $demo_dir/auth.log)
API server:  $api_url   (logs: $demo_dir/api.log)
UseReferenceTokens: $UseReferenceTokens
Demo client: $client_id / $client_secret    Demo user: $username / $password

In another terminal, log in as $username and keep the access token:

  TOKEN=\$(curl -s -u $client_id:$client_secret -d grant_type=password -d username=$username -d password=$password $auth_url/connect/token | sed -E 's/.*"access_token":"([^"]+)".*/\1/')

Call the API with it (200 and who you are):

  curl -s $api_url/api/me -H "Authorization: Bearer \$TOKEN"

TEXT

if [ "$UseReferenceTokens" = true ]; then
    cat <<TEXT
Revoke it (200, empty body):

  curl -s -u $client_id:$client_secret -d token=\$TOKEN $auth_url/connect/revocation

Call the API again: 401 with error="invalid_token", on the very next call:

  curl -s -i $api_url/api/me -H "Authorization: Bearer \$TOKEN"
TEXT
else
    cat <<TEXT
Try to revoke it: a JWT is not stored, so Auth answers 400 unsupported_token_type:

  curl -s -u $client_id:$client_secret -d token=\$TOKEN $auth_url/connect/revocation

End its session instead (200): its refresh token stops working now...

  curl -s -X POST $auth_url/connect/endsession -H "Authorization: Bearer \$TOKEN"

...but the API still accepts the JWT (200) until it expires:

  curl -s -i $api_url/api/me -H "Authorization: Bearer \$TOKEN"
TEXT
fi
echo
echo "Press Ctrl-C to stop both servers."

wait

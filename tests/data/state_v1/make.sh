#!/usr/bin/env bash
# Re-make the state_v1 fixtures (see README.md here) with a batchport binary:
#
#   tests/data/state_v1/make.sh /tmp/batchport-old
#
# Needs curl and jq, and the ports 28761 and 28762 of 127.0.0.1 free. The
# interrupted run stops wherever the kill lands, so a re-made `interrupted/`
# differs from the committed one (the tests read what it holds); `nightly/` is
# the same every time but for its run id and timestamps.
set -euo pipefail

BP=$(realpath "${1:-/tmp/batchport-old}")
HERE=$(cd "$(dirname "$0")" && pwd)
# The interrupted run's input is recorded by its absolute path: the tests put
# it back here (see README.md, "Portability").
WORK=/tmp/batchport-state-v1
# Input mtimes are recorded to the nanosecond: a fixed one, set again by the tests.
MTIME=@1767225600 # 2026-01-01T00:00:00Z
export BATCH_REST_KEY=emulator_rest_key BATCH_PROJECT_KEY=project_emulator
export TZ=UTC

EMU_PID=
stop_emulator() {
    if [ -n "$EMU_PID" ]; then
        kill "$EMU_PID" 2>/dev/null || true
        wait "$EMU_PID" 2>/dev/null || true
        EMU_PID=
    fi
}
trap stop_emulator EXIT

# start_emulator PORT FLAGS...: `batchport emulator` on 127.0.0.1:PORT, waited for.
start_emulator() {
    local port=$1
    shift
    "$BP" emulator --port "$port" "$@" >"$WORK/emulator-$port.log" 2>&1 &
    EMU_PID=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/_emulator/stats" >/dev/null && return 0
        sleep 0.1
    done
    echo "the emulator did not start on port $port" >&2
    exit 1
}

received() { curl -sf "http://127.0.0.1:$1/_emulator/received"; }

rm -rf "$WORK"
mkdir -p "$WORK/interrupted" "$WORK/nightly"

# --- interrupted/: a profiles run killed (SIGKILL) half way ---------------------
cd "$WORK/interrupted"
"$BP" generate users.csv --rows 2000 --seed 7 >/dev/null
rm users.toml
chmod 644 users.csv
touch -d "$MTIME" users.csv
cat >job.toml <<'EOF'
# A state_v1 fixture (tests/data/state_v1/README.md): the run of this job was
# killed half way; the tests resume it. The input path is absolute on purpose:
# the run record keeps it, and a run is resumed only over the same file.
[job]
name = "fixture-interrupted"
kind = "profiles"

[api]
base_url = "http://127.0.0.1:28761"
batch_size = 100
concurrency = 2

[source]
path = "/tmp/batchport-state-v1/interrupted/users.csv"

[mapping]
custom_id = "custom_id"
on_bad_value = "reject_row"

[mapping.native]
email_address = "email"
email_marketing = { column = "email_optin", subscribed = ["yes"], unsubscribed = ["no"] }
phone_number = "phone"
sms_marketing = { column = "sms_optin", subscribed = ["yes"], unsubscribed = ["no"] }
language = "language"
region = "region"
timezone = "timezone"

[mapping.attributes]
first_name = "first_name"
last_name = "last_name"
birthdate = { column = "birthdate", type = "date" }
is_premium = { column = "is_premium", type = "bool" }
lifetime_value = { column = "lifetime_value", type = "float" }
orders = { column = "orders", type = "int" }
interests = { column = "interests", type = "array", separator = "|" }
EOF
# 300 ms per call, 2 in flight: about 7 batches of 100 a second.
start_emulator 28761 --latency-ms 300
"$BP" run job.toml --json --state state >/dev/null 2>&1 &
RUN_PID=$!
until [ "$(received 28761 | jq length)" -ge 900 ]; do sleep 0.02; done
# Freeze the importer, give the emulator time to apply the calls already in
# flight (their answers never reach the importer), then kill -9: the state on
# disk is what a kill at the moment of the freeze leaves, with batches Batch
# applied but the ledger never saw acknowledged.
kill -STOP "$RUN_PID"
sleep 1.5
kill -KILL "$RUN_PID"
wait "$RUN_PID" 2>/dev/null || true
received 28761 | jq -r 'keys[]' | LC_ALL=C sort >stored_at_kill.txt
stop_emulator

# --- nightly/: a finished changed_only run, and tomorrow's file -----------------
cd "$WORK/nightly"
"$BP" generate all.csv --rows 1010 --seed 11 >/dev/null
rm all.toml
# v1: the first 1,000 rows.
head -n 1001 all.csv >users_v1.csv
# v2: v1 with 8 rows' orders and 4 rows' first_name changed (u7, u107, ...),
# and the last 10 rows of all.csv (u1000 to u1009) added; the rest unchanged.
awk -F, -v OFS=, '
    NR > 1 && $1 ~ /^u[0-9]+$/ {
        i = substr($1, 2) + 0
        if (i % 100 == 7 && i < 800) $14 = $14 + 1000
        if (i % 100 == 7 && i >= 800) $9 = $9 "-renamed"
        if (i == 555) $9 = $9 "-renamed"
        if (i == 999) $9 = $9 "-renamed"
    }
    { print }' users_v1.csv >users_v2.csv
tail -n 10 all.csv >>users_v2.csv
rm all.csv
chmod 644 users_v1.csv users_v2.csv
cat >job.toml <<'EOF'
# A state_v1 fixture (tests/data/state_v1/README.md): this job imported
# users_v1.csv (as users.csv) with changed_only; the tests run it on
# users_v2.csv.
[job]
name = "fixture-nightly"
kind = "profiles"

[api]
base_url = "http://127.0.0.1:28762"
batch_size = 100
concurrency = 2

[source]
path = "users.csv"

[mapping]
custom_id = "custom_id"
changed_only = true
on_bad_value = "reject_row"

[mapping.native]
email_address = "email"
email_marketing = { column = "email_optin", subscribed = ["yes"], unsubscribed = ["no"] }
phone_number = "phone"
sms_marketing = { column = "sms_optin", subscribed = ["yes"], unsubscribed = ["no"] }
language = "language"
region = "region"
timezone = "timezone"

[mapping.attributes]
first_name = "first_name"
last_name = "last_name"
birthdate = { column = "birthdate", type = "date" }
is_premium = { column = "is_premium", type = "bool" }
lifetime_value = { column = "lifetime_value", type = "float" }
orders = { column = "orders", type = "int" }
interests = { column = "interests", type = "array", separator = "|" }
EOF
cp users_v1.csv users.csv
touch -d "$MTIME" users.csv users_v1.csv users_v2.csv
start_emulator 28762
"$BP" run job.toml --json --state state >v1_summary.json
stop_emulator

# --- copy into the repository ---------------------------------------------------
rm -rf "$HERE/interrupted" "$HERE/nightly"
mkdir -p "$HERE/interrupted" "$HERE/nightly"
cp -r "$WORK/interrupted/job.toml" "$WORK/interrupted/users.csv" "$WORK/interrupted/stored_at_kill.txt" \
    "$WORK/interrupted/state" "$HERE/interrupted/"
cp -r "$WORK/nightly/job.toml" "$WORK/nightly/users_v1.csv" "$WORK/nightly/users_v2.csv" \
    "$WORK/nightly/v1_summary.json" "$WORK/nightly/state" "$HERE/nightly/"
# Git keeps 644/755 anyway; make the working copy match.
chmod -R u+rwX,go+rX "$HERE/interrupted" "$HERE/nightly"
echo "interrupted: $(wc -l <"$HERE/interrupted/stored_at_kill.txt") of 2000 ids stored at the kill"
# What they hold, read from copies (opening a sled store may write to it).
for f in interrupted nightly; do
    rm -rf "$WORK/peek" && cp -r "$HERE/$f/state" "$WORK/peek" && chmod -R go-rwx "$WORK/peek"
    "$BP" status --json --state "$WORK/peek" |
        jq -c '.[0].runs[0] | {id, status, rows_read: .counters.rows_read, rows_sent: .counters.rows_sent}'
done
rm -rf "$WORK/peek"
du -sh "$HERE"

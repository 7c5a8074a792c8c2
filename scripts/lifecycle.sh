#!/usr/bin/env bash
# The whole lifecycle of PRODUCT.md driven through the HTTP API of a running `threadline serve`:
# raw material receipt → production → assembly → QC (a failure and its disposition) → pack →
# move → ship → distributor receipt → sale → return → repair (a part swapped) → scrap, with a
# correction, a hold and its release, and the refusals a clerk meets at the scan. Each step
# uses a token of the role that does it on the floor.
#
#   scripts/lifecycle.sh                  # builds threadline, serves a fresh SQLite database
#   THREADLINE_BIN=target/release/threadline THREADLINE_DB=postgres://… scripts/lifecycle.sh
#
# Exits non-zero at the first step whose answer is not the expected one.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${THREADLINE_BIN:-}" ]]; then
    cargo build -q -p threadline
    THREADLINE_BIN=target/debug/threadline
fi
work="$(mktemp -d)"
db="${THREADLINE_DB:-sqlite:$work/lifecycle.db}"
port="${THREADLINE_PORT:-18$((RANDOM % 900 + 100))}"
base="http://127.0.0.1:$port"

"$THREADLINE_BIN" serve --db "$db" --listen "127.0.0.1:$port" --admin-password "lifecycle-$RANDOM$RANDOM" \
    >"$work/serve.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
    curl -sf "$base/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "$base/healthz" >/dev/null || { cat "$work/serve.log"; exit 1; }

token() { "$THREADLINE_BIN" token create --db "$db" --name "$1-$$" --role "$2"; }
ADMIN=$(token admin admin)
WH=$(token wh warehouse)
PROD=$(token prod production)
QC=$(token qc qc)
SERVICE=$(token svc service)
QUALITY=$(token quality quality)

# call TOKEN METHOD PATH EXPECTED-STATUS [JSON] — prints the step, fails on another status.
call() {
    local tok=$1 method=$2 path=$3 want=$4 body=${5:-}
    local args=(-s -o "$work/out" -w '%{http_code}' -X "$method" "$base$path" -H "Authorization: Bearer $tok")
    [[ -n "$body" ]] && args+=(-H 'Content-Type: application/json' -d "$body")
    local got
    got=$(curl "${args[@]}")
    printf '%-4s %-40s %s\n' "$method" "$path" "$got"
    if [[ "$got" != "$want" ]]; then
        echo "expected $want:" >&2
        cat "$work/out" >&2
        echo >&2
        exit 1
    fi
}
# expect CODE: the last answer's first error has this code.
expect() {
    grep -q "\"code\":\"$1\"" "$work/out" || { echo "expected error $1:" >&2; cat "$work/out" >&2; exit 1; }
    printf '     refused: %s\n' "$1"
}
# state PRODUCT SERIAL STATUS: the unit is in this state now.
state() {
    call "$WH" GET "/api/v1/items/$1/$2" 200
    grep -q "\"status\":\"$3\"" "$work/out" || { echo "$1 $2 is not $3:" >&2; cat "$work/out" >&2; exit 1; }
    printf '     %s %s is %s\n' "$1" "$2" "$3"
}
# at PRODUCT SERIAL LOCATION: the unit is at this location now.
at() {
    call "$WH" GET "/api/v1/items/$1/$2" 200
    grep -q "\"location\":\"$3\"" "$work/out" || { echo "$1 $2 is not at $3:" >&2; cat "$work/out" >&2; exit 1; }
    printf '     %s %s is at %s\n' "$1" "$2" "$3"
}
# The id of the first event the last answer recorded.
recorded() { grep -o '"id":"[0-9a-f-]*"' "$work/out" | head -1 | cut -d'"' -f4; }
unit() { printf '{"product": "%s", "serial": "%s"}' "$1" "$2"; }

echo "== master data"
for l in '{"code": "SZ", "name": "Shenzhen plant", "kind": "site"}' \
         '{"code": "SZ-L1", "name": "Line 1", "kind": "line", "parent": "SZ"}' \
         '{"code": "SZ-WH", "name": "Warehouse", "kind": "area", "parent": "SZ"}' \
         '{"code": "SZ-WH-A1", "name": "Bin A1", "kind": "bin", "parent": "SZ-WH"}' \
         '{"code": "SZ-WH-A2", "name": "Bin A2", "kind": "bin", "parent": "SZ-WH"}' \
         '{"code": "SZ-RW", "name": "Repair workshop", "kind": "area", "parent": "SZ"}'; do
    call "$ADMIN" POST /api/v1/locations 201 "$l"
done
for p in '{"code": "SUP-1", "name": "Resin Co.", "kind": "supplier"}' \
         '{"code": "DIST-GD", "name": "Guangdong Distribution", "kind": "distributor", "regions": ["CN-GD"]}' \
         '{"code": "CUST-1", "name": "Acme Retail", "kind": "customer"}'; do
    call "$ADMIN" POST /api/v1/parties 201 "$p"
done
call "$ADMIN" POST /api/v1/locations 201 '{"code": "EXT-GD", "name": "DIST-GD warehouse", "kind": "external", "party": "DIST-GD"}'
for p in '{"code": "CTRL", "name": "Controller", "tracking": "serial", "warranty_months": 24, "attributes": [{"name": "firmware", "type": "text", "required": true}]}' \
         '{"code": "BAT", "name": "Battery pack", "tracking": "serial"}' \
         '{"code": "RESIN", "name": "Resin", "tracking": "lot", "uom": "KGM"}' \
         '{"code": "HOUSING", "name": "Housing", "tracking": "lot"}' \
         '{"code": "CASE", "name": "Case", "tracking": "serial", "container": true}'; do
    call "$ADMIN" POST /api/v1/products 201 "$p"
done

echo "== raw material receipt"
call "$WH" POST /api/v1/ops/receive 201 '{"supplier": "SUP-1", "purchase_order": "PO-1", "location": "SZ-WH-A1", "inspector": "Wu",
  "lines": [{"line": "10", "product": "RESIN", "lots": [{"lot": "R-01", "quantity": "25", "production_date": "2026-10-01", "expiry_date": "2028-10-01"}]},
            {"line": "20", "product": "BAT", "serials": ["BAT-001", "BAT-002", "BAT-003"]}]}'
call "$WH" GET '/api/v1/ops/pick?product=RESIN&quantity=5&strategy=fefo' 200
call "$WH" POST /api/v1/ops/move 201 '{"lots": [{"product": "RESIN", "lot": "R-01", "quantity": "5"}], "from": "SZ-WH-A1", "to": "SZ-L1"}'

echo "== production"
call "$PROD" POST /api/v1/ops/transform 201 '{"location": "SZ-L1", "input_lots": [{"product": "RESIN", "lot": "R-01", "quantity": "2"}],
  "output_lots": [{"product": "HOUSING", "lot": "H-01", "quantity": "20"}], "equipment": "IMM-05", "parameters": {"temperature_c": 285}}'
call "$PROD" POST /api/v1/ops/commission 201 '{"product": "CTRL", "serials": ["C-001", "C-002"], "work_order": "WO-1", "line": "SZ-L1",
  "station": "FA-01", "operator": "Li", "revision": "C", "attributes": {"firmware": "2.4.1"}}'
call "$PROD" POST /api/v1/ops/commission 422 '{"product": "CTRL", "serials": ["C-003"], "work_order": "WO-1", "line": "SZ-L1", "attributes": {"firmware": 7}}'
expect invalid_attribute

echo "== assembly"
call "$PROD" POST /api/v1/ops/assemble 201 "{\"parent\": $(unit CTRL C-001), \"components\": [$(unit BAT BAT-001)],
  \"component_lots\": [{\"product\": \"HOUSING\", \"lot\": \"H-01\", \"quantity\": \"1\"}], \"location\": \"SZ-L1\", \"work_order\": \"WO-1\"}"
call "$PROD" POST /api/v1/ops/assemble 201 "{\"parent\": $(unit CTRL C-002), \"components\": [$(unit BAT BAT-002)]}"
call "$PROD" POST /api/v1/ops/assemble 422 "{\"parent\": $(unit CTRL C-002), \"components\": [$(unit BAT BAT-001)]}"
expect already_assembled

echo "== QC"
call "$QC" POST /api/v1/ops/inspect 201 "{\"items\": [$(unit CTRL C-001)], \"result\": \"pass\", \"inspector\": \"Zhao\", \"equipment\": \"ATE-07\",
  \"measurements\": [{\"name\": \"output_voltage\", \"value\": 5.01, \"unit\": \"V\", \"low\": 4.8, \"high\": 5.2}]}"
call "$QC" POST /api/v1/ops/inspect 201 "{\"items\": [$(unit CTRL C-002)], \"result\": \"fail\", \"inspector\": \"Zhao\", \"defect_codes\": [\"E-VOLT-LOW\"],
  \"measurements\": [{\"name\": \"output_voltage\", \"value\": 4.6, \"unit\": \"V\", \"low\": 4.8, \"high\": 5.2}]}"
call "$WH" POST /api/v1/ops/move 201 "{\"items\": [$(unit CTRL C-001), $(unit CTRL C-002)], \"to\": \"SZ-WH-A1\", \"put_away\": true}"
state CTRL C-001 in_stock

echo "== the QC failure is refused at the scan, then reworked, inspected again and put away"
call "$WH" POST /api/v1/ops/ship 422 '{"sales_order": "SO-1", "distributor": "DIST-GD", "from": "SZ-WH-A1", "lines": [{"product": "CTRL", "serials": ["C-002"]}]}'
expect qc_hold
call "$QC" POST /api/v1/ops/disposition 201 "{\"items\": [$(unit CTRL C-002)], \"decision\": \"rework\", \"reason\": \"power stage re-soldered\"}"
state CTRL C-002 in_production
call "$QC" POST /api/v1/ops/inspect 201 "{\"items\": [$(unit CTRL C-002)], \"result\": \"pass\", \"inspector\": \"Zhao\", \"equipment\": \"ATE-07\",
  \"measurements\": [{\"name\": \"output_voltage\", \"value\": 4.98, \"unit\": \"V\", \"low\": 4.8, \"high\": 5.2}]}"
call "$WH" POST /api/v1/ops/move 201 "{\"items\": [$(unit CTRL C-002)], \"to\": \"SZ-RW\", \"put_away\": true}"
misplaced=$(recorded)

echo "== a correction: that put-away was scanned at the wrong place"
call "$QUALITY" POST /api/v1/ops/correct 201 "{\"event\": \"$misplaced\", \"reason\": \"scanned at the repair bench, put into bin A1\", \"location\": \"SZ-WH-A1\"}"
at CTRL C-002 SZ-WH-A1
call "$WH" GET "/api/v1/events/$misplaced" 200
grep -q '"corrected_by":\[' "$work/out" || { echo "the original is not marked corrected:" >&2; cat "$work/out" >&2; exit 1; }
echo "     the original stays, marked corrected"

echo "== pack, move the case (its contents go with it) and ship"
call "$PROD" POST /api/v1/ops/pack 201 "{\"container\": $(unit CASE CASE-0001), \"items\": [$(unit CTRL C-001)], \"location\": \"SZ-WH-A1\"}"
call "$WH" POST /api/v1/ops/move 201 "{\"items\": [$(unit CASE CASE-0001)], \"to\": \"SZ-WH-A2\"}"
at CTRL C-001 SZ-WH-A2
call "$WH" POST /api/v1/ops/move 422 "{\"items\": [$(unit CTRL C-001)], \"to\": \"SZ-WH-A1\"}"
expect in_container
call "$WH" POST /api/v1/ops/ship 201 "{\"sales_order\": \"SO-1\", \"distributor\": \"DIST-GD\", \"ship_to_region\": \"CN-GD\", \"carrier\": \"SF Express\",
  \"tracking_number\": \"SF1001\", \"from\": \"SZ-WH-A2\", \"to\": \"EXT-GD\", \"containers\": [$(unit CASE CASE-0001)]}"
state CTRL C-001 in_transit
call "$WH" POST /api/v1/ops/ship 422 "{\"sales_order\": \"SO-2\", \"distributor\": \"DIST-GD\", \"from\": \"SZ-WH-A2\", \"containers\": [$(unit CASE CASE-0001)]}"
expect already_shipped

echo "== distributor receipt and sale"
call "$WH" POST /api/v1/ops/distributor-receipt 201 "{\"distributor\": \"DIST-GD\", \"location\": \"EXT-GD\", \"sales_order\": \"SO-1\", \"items\": [$(unit CASE CASE-0001)]}"
call "$ADMIN" POST /api/v1/ops/unpack 201 "{\"container\": $(unit CASE CASE-0001), \"location\": \"EXT-GD\"}"
call "$WH" POST /api/v1/ops/sell 201 "{\"customer\": \"CUST-1\", \"seller\": \"DIST-GD\", \"region\": \"CN-GD\", \"items\": [$(unit CTRL C-001)]}"
state CTRL C-001 sold
call "$WH" POST /api/v1/ops/sell 422 "{\"customer\": \"CUST-1\", \"items\": [$(unit CTRL C-001)]}"
expect already_sold

echo "== return and repair"
call "$SERVICE" POST /api/v1/ops/return 201 "{\"rma\": \"RMA-1\", \"customer\": \"CUST-1\", \"reason\": \"does not power on\", \"condition\": \"fine\",
  \"outcome\": \"repair\", \"location\": \"SZ-RW\", \"items\": [$(unit CTRL C-001)]}"
state CTRL C-001 in_repair
call "$SERVICE" POST /api/v1/ops/repair 201 "{\"repair_order\": \"RO-1\", \"unit\": $(unit CTRL C-001), \"fault\": \"dead cell\", \"fault_code\": \"F-BAT\",
  \"engineer\": \"Chen\", \"parts\": [{\"old\": $(unit BAT BAT-001), \"new\": $(unit BAT BAT-003)}], \"completed\": true, \"location\": \"SZ-WH-A1\"}"
state CTRL C-001 in_stock
call "$WH" GET "/api/v1/items/CTRL/C-001/passport" 200
grep -q '"status":"active"' "$work/out" && echo "     warranty active"

echo "== scrap, and a recall hold on everything made from the resin lot"
call "$SERVICE" POST /api/v1/ops/scrap 201 "{\"items\": [$(unit BAT BAT-001)], \"reason\": \"failed cell\"}"
state BAT BAT-001 scrapped
call "$QUALITY" POST /api/v1/ops/hold 201 '{"kind": "recall", "produced_from": [{"product": "RESIN", "lot": "R-01"}], "reason": "supplier notice"}'
call "$WH" POST /api/v1/ops/ship 422 "{\"sales_order\": \"SO-3\", \"customer\": \"CUST-1\", \"from\": \"SZ-WH-A1\", \"lines\": [{\"product\": \"CTRL\", \"serials\": [\"C-001\"]}]}"
expect on_hold
call "$QUALITY" POST /api/v1/ops/release 201 '{"kind": "recall", "produced_from": [{"product": "RESIN", "lot": "R-01"}], "reason": "cleared"}'
state CTRL C-001 in_stock
call "$WH" GET /api/v1/items/CTRL/C-001 200
grep -q '"holds":\[\]' "$work/out" || { echo "C-001 is still held:" >&2; cat "$work/out" >&2; exit 1; }
echo "     released"
call "$QUALITY" POST /api/v1/ops/disposition 201 "{\"items\": [$(unit CTRL C-002)], \"decision\": \"scrap\", \"reason\": \"beyond repair\"}"
state CTRL C-002 scrapped

echo "== the ledger"
call "$ADMIN" GET /api/v1/ledger/verify 200
grep -q '"first_break":null' "$work/out"
echo "lifecycle complete: $(grep -o '"entries":[0-9]*' "$work/out")"

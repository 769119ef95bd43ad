#!/bin/sh
# One container lifecycle driven the way berth drives runc: three separate
# runc processes (create, start, delete) instead of one `runc run`.
#   runc-split.sh RUNC STATE_ROOT BUNDLE ID
set -e
runc=$1 state=$2 bundle=$3 id=$4
"$runc" --root "$state" create -b "$bundle" "$id" </dev/null >/dev/null
"$runc" --root "$state" start "$id"
"$runc" --root "$state" delete --force "$id"

#!/bin/sh
# `make demo`: record examples/bank and show what the recording holds.
# $1 is the bin directory of the virtualenv to use.
set -eu
bin=$(cd "$1" && pwd)
cd "$(dirname "$0")/../examples/bank"
echo "--- recording: cinescope record -m bank (plan: examples/bank/.cinescope/plan.toml)"
"$bin/cinescope" record --name demo -m bank
echo
echo "--- what was recorded: cinescope summary"
"$bin/cinescope" summary
echo
echo "--- the state changes of the accounts: cinescope events --kind state"
"$bin/cinescope" events --kind state
echo
echo "Try: cd examples/bank && $bin/cinescope events --json --kind send --kind receive"

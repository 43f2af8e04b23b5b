#!/usr/bin/env bash
# ssh_log.sh BINARY LOG - the example SSH converter over a real sshd log: every line it turns
# into an event must be valid (--strict), and the example rules must fire on it. Exit 77 (a
# skip for CTest) when the log is not there: it is not shipped with the project.
set -u -o pipefail
bin=$1
log=$2
if [ ! -f "$log" ]; then
	echo "skipped: no $log"
	exit 77
fi
n=$(awk -v year=2024 -f examples/ssh2json.awk "$log" | "$bin" --strict -r examples/ssh.yaml |
	grep -c '"rule"') || { echo "no alert, or a line the converter made was malformed"; exit 1; }
echo "$n alerts"

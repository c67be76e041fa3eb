#!/usr/bin/env bash
# Run every test: install dependencies, build and install the extension, run
# the pg_regress suite on a temporary instance, then every test/*/run.sh suite.
# Ends with the line "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. test/lib/pgcluster.sh

bash test/deps.sh || { echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
work=$(mktemp -d /tmp/dc-test.XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

echo "== build and install"
if ! { make -s clean >/dev/null && make -s -j2 && make -s install; } >"$work/build.log" 2>&1; then
	cat "$work/build.log"
	echo "0 passed, 1 failed"
	exit 1
fi

echo "== pg_regress"
# pg_regress writes its results next to the tests and initdb refuses root:
# run it as an unprivileged user in a copy of the tree.
pguser=$(dc_os_user)
cp -a "$top" "$work/tree"
chown -R "$pguser" "$work/tree"
chmod 755 "$work"
runuser -u "$pguser" -- make -s -C "$work/tree" installcheck >"$work/regress.log" 2>&1
rc=$?
# PostgreSQL 15's pg_regress prints "test NAME ... ok" / "... FAILED".
p=$(grep -cE '^(test | +)?[A-Za-z0-9_]+ +\.\.\. ok' "$work/regress.log")
f=$(grep -cE '\.\.\. (FAILED|failed)' "$work/regress.log")
grep -E '\.\.\. ' "$work/regress.log" | sed 's/^/  /'
if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; cat "$work/regress.log"; fi
if [ -f "$work/tree/regression.diffs" ] && [ "$f" != 0 ]; then
	head -c 20000 "$work/tree/regression.diffs"
fi
passed=$((passed + p))
failed=$((failed + f))

# Every suite: test/NAME/run.sh and test/GROUP/NAME/run.sh.
for suite in $(find test -mindepth 2 -maxdepth 3 -name run.sh | sort); do
	name=${suite#test/}
	name=${name%/run.sh}
	echo "== $name"
	out="$work/${name//\//_}.log"
	timeout --kill-after=10 "${DC_SUITE_TIMEOUT:-600}" bash "$suite" >"$out" 2>&1
	rc=$?
	sed 's/^/  /' "$out"
	p=$(grep -c '^ok ' "$out")
	f=$(grep -c '^not ok ' "$out")
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "  suite $name exited with status $rc"
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

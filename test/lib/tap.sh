# Minimal TAP-style reporting for shell test suites.  Source this file.
# Each check prints "ok - NAME" or "not ok - NAME"; test/run_tests.sh counts them.

dc_ok()     { echo "ok - $*"; }
dc_not_ok() { echo "not ok - $*"; }

# dc_check NAME COMMAND...: passes when COMMAND exits 0.
dc_check() {
	local name=$1; shift
	if "$@"; then dc_ok "$name"; else dc_not_ok "$name"; fi
}

# dc_is NAME GOT EXPECTED: passes when the two strings are equal.
dc_is() {
	if [ "$2" = "$3" ]; then
		dc_ok "$1"
	else
		dc_not_ok "$1"
		printf '#   got:      %s\n#   expected: %s\n' "$2" "$3"
	fi
}

#!/bin/sh
# tests/docs/check.sh: the reference docs cover what the code declares.
# Every key of common/config.c's key table has its section and its row in
# docs/configuration.md and its line in siogate.conf.example; every
# function declared in common/siogate.h has its declaration in docs/api.md,
# and every macro of the header is named there; every built-in app of
# common/plugin.c is named in the app section. The lists are read from
# the sources, so a key or function added without its docs fails here.
#
#   tests/docs/check.sh [ROOT]          (make check)
set -u
root=${1:-$(dirname "$0")/../..}
cd "$root" || exit 1
conf=docs/configuration.md api=docs/api.md example=siogate.conf.example
fail=0

missing() {
	echo "docs: $1"
	fail=1
}

# The key table: from "config_keys[] = {" to its end ("};" or the {NULL
# row), one {"name", ... a row.
keys=$(awk '/^static const struct config_key config_keys\[\] = \{/ { on = 1; next }
	on && /^\};|\{NULL/ { exit }
	on' common/config.c | sed -n 's/^[[:space:]]*{"\([a-z0-9_]*\)",.*/\1/p')
nkeys=0
for k in $keys; do
	nkeys=$((nkeys + 1))
	grep -qx "### $k" "$conf" ||
		missing "key '$k' (common/config.c) has no '### $k' section in $conf"
	grep -q "^| \`$k\` |" "$conf" ||
		missing "key '$k' (common/config.c) has no row in the table of $conf"
	grep -Eq "^#?$k = " "$example" ||
		missing "key '$k' (common/config.c) has no '#$k = ' line in $example"
done
# ... and nothing documented that the code does not read.
for k in $(sed -n 's/^### \([a-z0-9_]*\)$/\1/p' "$conf"); do
	echo "$keys" | grep -qx "$k" ||
		missing "$conf documents key '$k', which common/config.c does not have"
done

# Declarations: a line at the start of the file's top level (not a
# comment, a typedef or a struct member) naming sio_*( is a function.
funcs=$(grep -E '^[a-z][a-z_ ]*[ *]+sio_[a-z0-9_]+\(' common/siogate.h |
	grep -v '^typedef' | sed 's/^[^(]*[ *]\(sio_[a-z0-9_]*\)(.*/\1/')
nfuncs=0
for f in $funcs; do
	nfuncs=$((nfuncs + 1))
	grep -Eq "^[a-z][a-z_ ]*[ *]+$f\(" "$api" ||
		missing "function $f (common/siogate.h) has no declaration in $api"
done
macros=$(sed -n 's/^#define \(SIO[A-Z0-9_]*\).*/\1/p' common/siogate.h |
	grep -v '^SIOGATE_H$')
nmacros=0
for m in $macros; do
	nmacros=$((nmacros + 1))
	grep -q "\`$m\`\|#define $m " "$api" ||
		missing "macro $m (common/siogate.h) is not named in $api"
done

# The applications built into every program (examples/NAME/NAME.c, each
# defining sio_NAME_plugin, which the Makefile's generated table lists),
# each named in the app section of $conf.
apps=$(for f in examples/*/*.c; do
	a=$(basename "$f" .c)
	[ "$f" = "examples/$a/$a.c" ] &&
		grep -q "^const struct sio_plugin sio_${a}_plugin = {" "$f" &&
		echo "$a"
done)
appsec=$(sed -n '/^### app$/,/^### /p' "$conf")
napps=0
for a in $apps; do
	napps=$((napps + 1))
	echo "$appsec" | grep -q "\`$a\`" ||
		missing "built-in app '$a' (examples/$a/) is not named under '### app' in $conf"
done

echo "docs: $nkeys keys of common/config.c, $nfuncs functions and $nmacros" \
	"macros of common/siogate.h, $napps built-in apps checked against" \
	"$conf, $example and $api"
if [ "$nkeys" -lt 10 ] || [ "$nfuncs" -lt 10 ] || [ "$napps" -lt 2 ]; then
	missing "too few keys or functions found: the parsing above is broken"
fi
[ $fail = 0 ] && echo "docs: passed" || echo "docs: FAILED"
exit $fail

#!/bin/sh
# lint.sh - source checks that need no compiler: banned functions (core/banned.h lists them
# and says why) must not be called anywhere in src/, tests/ or bench/.
cd "$(dirname "$0")/.." || exit 2
banned='\b(strcpy|strcat|strncpy|strncat|sprintf|vsprintf|strtok|gets|gmtime|localtime|ctime|asctime|atoi|atol)[[:space:]]*\('
hits=$(grep -rnE "$banned" --include='*.c' --include='*.h' src tests bench 2>/dev/null |
    grep -v 'core/banned.h' | grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/\*|\*)')
if [ -n "$hits" ]; then
    echo "$hits"
    echo "FAIL lint/banned-functions"
else
    echo "PASS lint/banned-functions"
fi
missing=""
for f in $(find src -name '*.c' -o -name '*.h'); do
    head -3 "$f" | grep -q '^/\*' || missing="$missing $f"
done
if [ -n "$missing" ]; then
    echo "files without a top comment:$missing"
    echo "FAIL lint/file-comments"
else
    echo "PASS lint/file-comments"
fi

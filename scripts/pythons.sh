#!/bin/sh
# Prints the supported Python interpreters found on this machine, newest first,
# one absolute path per line. Looks on PATH, then in pyenv's versions (pyenv's
# shims only answer for the active version, so they are not enough).
set -u
root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for v in 3.13 3.12 3.11; do
  found=""
  for cand in $(command -v "python$v" 2>/dev/null) \
              $(ls -d "$root"/versions/"$v".*/bin/"python$v" 2>/dev/null | sort -t. -k3 -n -r) \
              "/usr/bin/python$v" "/usr/local/bin/python$v"; do
    [ -x "$cand" ] || continue
    if "$cand" -c "import sys; sys.exit(0 if sys.version_info[:2] == ($(echo $v | tr . ,)) else 1)" 2>/dev/null; then
      found=$("$cand" -c 'import sys; print(sys.executable)')
      break
    fi
  done
  [ -n "$found" ] && echo "$found"
done
exit 0

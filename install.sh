#!/bin/sh
# Installs the dspy-code executable from a GitHub release:
#
#   curl -fsSL https://github.com/dspy-code/dspy-code/releases/latest/download/install.sh | sh
#
# It picks the asset for this OS and CPU (dspy-code-<arch>-<os>), downloads it with SHA256SUMS, refuses to
# install when the checksum does not match (leaving nothing behind), and installs to ~/.local/bin/dspy-code.
#
# Environment:
#   DSPY_CODE_INSTALL      folder to install into (default ~/.local/bin)
#   DSPY_CODE_RELEASE_URL  where the assets are (default: the latest GitHub release); a file:// or http(s)
#                          folder holding dspy-code-* and SHA256SUMS works too (mirrors, tests)
#   DSPY_CODE_VERSION      a tag such as v0.1.0 instead of the latest release
#   DSPY_CODE_OS, DSPY_CODE_ARCH   override `uname -s` / `uname -m` (tests, cross-installs)
set -eu

repo_url="https://github.com/dspy-code/dspy-code/releases"
if [ -n "${DSPY_CODE_RELEASE_URL:-}" ]; then
  base=${DSPY_CODE_RELEASE_URL%/}
elif [ -n "${DSPY_CODE_VERSION:-}" ]; then
  base="$repo_url/download/$DSPY_CODE_VERSION"
else
  base="$repo_url/latest/download"
fi
dest=${DSPY_CODE_INSTALL:-${HOME:?HOME is not set; set DSPY_CODE_INSTALL}/.local/bin}

say() { printf 'dspy-code install: %s\n' "$*"; }
fail() { printf 'dspy-code install: error: %s\n' "$*" >&2; exit 1; }

os=${DSPY_CODE_OS:-$(uname -s)}
arch=${DSPY_CODE_ARCH:-$(uname -m)}
case "$os" in
  Linux | linux) os_part="unknown-linux-gnu" ;;
  Darwin | darwin | macOS) os_part="apple-darwin" ;;
  *) fail "unsupported OS '$os': release builds exist for Linux and macOS (x86_64, arm64); on other systems run from source: https://github.com/dspy-code/dspy-code#readme" ;;
esac
case "$arch" in
  x86_64 | amd64) arch_part="x86_64" ;;
  aarch64 | arm64) arch_part="aarch64" ;;
  *) fail "unsupported CPU '$arch': release builds exist for x86_64 and arm64 (aarch64)" ;;
esac
asset="dspy-code-${arch_part}-${os_part}"

if command -v curl >/dev/null 2>&1; then
  fetch() { curl -fsSL --retry 2 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget -q -O "$2" "$1"; }
else
  fail "neither curl nor wget is installed: install one of them and run this again"
fi
if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$1" | awk '{print $1}'; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 "$1" | awk '{print $1}'; }
else
  fail "neither sha256sum nor shasum is installed: cannot verify the download"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dspy-code-install.XXXXXX")
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

say "downloading $asset from $base"
fetch "$base/SHA256SUMS" "$tmp/SHA256SUMS" || fail "could not download $base/SHA256SUMS (is DSPY_CODE_RELEASE_URL / DSPY_CODE_VERSION right?)"
fetch "$base/$asset" "$tmp/$asset" || fail "could not download $base/$asset: this release has no build for $arch_part-$os_part"

expected=$(awk -v a="$asset" '$2 == a || $2 == "*" a { print $1; exit }' "$tmp/SHA256SUMS")
[ -n "$expected" ] || fail "SHA256SUMS has no line for $asset: refusing to install an unverified file"
actual=$(sha256 "$tmp/$asset")
if [ "$expected" != "$actual" ]; then
  fail "checksum mismatch for $asset (expected $expected, got $actual): the download is damaged or was tampered with; nothing was installed"
fi

mkdir -p "$dest" || fail "cannot create $dest (set DSPY_CODE_INSTALL to a folder you can write)"
staged="$dest/.dspy-code.install.$$"
cp "$tmp/$asset" "$staged" || { rm -f "$staged"; fail "cannot write to $dest (set DSPY_CODE_INSTALL to a folder you can write)"; }
chmod 0755 "$staged"
mv -f "$staged" "$dest/dspy-code" || { rm -f "$staged"; fail "cannot replace $dest/dspy-code"; }
say "installed $dest/dspy-code (sha256 $actual)"
if version=$("$dest/dspy-code" --version 2>/dev/null); then say "$version"; fi

case ":${PATH:-}:" in
  *":$dest:"*) say "run: dspy-code --help" ;;
  *)
    say "$dest is not on your PATH. Add it, then open a new shell:"
    case "${SHELL:-}" in
      */zsh) rc="~/.zshrc" ;;
      */fish) rc="" ;;
      *) rc="~/.bashrc" ;;
    esac
    if [ -n "$rc" ]; then
      printf '  echo '\''export PATH="%s:$PATH"'\'' >> %s\n' "$dest" "$rc"
    else
      printf '  fish_add_path %s\n' "$dest"
    fi
    ;;
esac
